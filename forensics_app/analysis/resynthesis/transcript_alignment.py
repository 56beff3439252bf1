"""Transcript alignment: where is each word of a typed transcript in the questioned recording?

The investigator types what the recording is said to contain. The workstation reads that text
aloud locally with eSpeak NG (:mod:`forensics_app.transcript.render`, word times from eSpeak's own
word events), aligns the rendering to the recording on speaker-robust spectral features with a
left-to-right model that allows pauses anywhere between words (:mod:`forensics_app.transcript.align`),
and reports:

* an overview finding "Transcript alignment" with the word x time attention matrix
  (:mod:`forensics_app.transcript.attention`; a clean diagonal for a faithful reading), the
  words' spans in the recording (a click on a word moves the playhead there), the pitch lane, and
  per word: span, alignment score, presence, duration ratio to the rendering, pitch summary;
* "Poorly aligned word: '<word>'" for each word that fits its place in the recording no better
  than leaving it out (:mod:`forensics_app.transcript.presence`): skipped, moved or replaced by the
  speaker, or mistyped;
* "Implausibly regular prosody" for each phrase whose pitch is smoother, or whose word durations
  are more proportional to the synthetic rendering, than natural readings show
  (:mod:`forensics_app.transcript.prosody`, thresholds measured on LibriSpeech and GRID speech).

All findings are descriptive (FakeLikelihood None): they are not calibrated scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries
from forensics_app.transcript import presence as presence_mod
from forensics_app.transcript import prosody
from forensics_app.transcript.align import Alignment, align
from forensics_app.transcript.attention import attention_matrix
from forensics_app.transcript.features import RATE, analysis_signal
from forensics_app.transcript.render import render
from forensics_app.transcript.text import parse_transcript

PARAMS = [
    Param("transcript", "", "Transcript typed by the investigator (the words said to be spoken)"),
    Param("voice", "en-us", "eSpeak NG voice that reads the transcript aloud (language[+variant], e.g. en-gb)"),
    Param("speed_wpm", 175, "Speaking rate of the synthetic reading (words per minute)", 80, 450),
    Param("prosody", True, "Measure pitch and flag implausibly regular prosody (pitch tracking: about 0.3 x real time)"),
]

EXPLANATION = (
    "Each row of the map is one word of the transcript, each column a moment of the recording; the brighter a cell, "
    "the more the alignment believes the word is spoken there (each row sums to 1). The transcript was read aloud "
    "locally by the eSpeak NG synthesiser and that synthetic reading was aligned to the recording by comparing "
    "speech sounds, with the voices' differences normalised away. A recording that says the transcript's words in "
    "order gives a clean staircase from top left to bottom right; a word that is smeared, split or squeezed into "
    "almost no time is one the alignment could not place well, and is listed as a poorly aligned word. "
    "What the map cannot show: who spoke the words, or whether the voice is genuine or synthetic; words spoken but "
    "missing from the transcript (they fall into the gaps between words); and fine differences between "
    "similar-sounding words, so a replaced word is not always flagged. Short words such as 'a' and 'the' carry "
    "little sound and are placed less reliably. The prosody check flags phrases whose pitch is smoother, or whose "
    "word durations follow the synthetic reading more closely, than natural readings measured on real speech; it "
    "points to rule-based speech synthesis, not to a particular speaker."
)


def _word_details(al: Alignment, presence: np.ndarray, scores: np.ndarray, flagged: np.ndarray,
                  track: prosody.PitchTrack | None) -> list[dict[str, Any]]:
    out = []
    for w, word in enumerate(al.words):
        a, b = (float(v) for v in al.spans_s[w])
        sa, sb = (float(v) for v in al.synthetic_spans_s[w])
        item: dict[str, Any] = {
            "word": word, "word_index": w, "start_s": round(a, 3), "end_s": round(b, 3),
            "synthetic_start_s": round(sa, 3), "synthetic_end_s": round(sb, 3),
            "alignment_score": round(float(scores[w]), 3), "presence": round(float(presence[w]), 4),
            "poorly_aligned": bool(flagged[w]),
            "duration_ratio": round((b - a) / max(sb - sa, 1e-3), 3),
            "mean_frame_cost": None if not np.isfinite(al.word_cost[w]) else round(float(al.word_cost[w]), 4),
        }
        if track is not None:
            item.update(prosody.word_pitch(track, a, b))
        out.append(item)
    return out


def _pitch_lane(track: prosody.PitchTrack) -> TimeSeries:
    step = 2  # 10 ms
    f0 = track.f0_hz[::step]
    return TimeSeries(name="transcript-f0", unit="Hz", times_s=track.times_s[::step], values=np.where(f0 > 0, f0, np.nan))


@analyzer(id="audio.transcript_alignment", version="1.0.0", media=[MediaKind.AUDIO], label="Transcript alignment",
          description="Align a typed transcript to the recording through a local synthetic reading; flag words that "
                      "do not fit and phrases with implausibly regular prosody",
          params=PARAMS, on_demand=True)
def transcript_alignment(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Align the transcript in ``params["transcript"]`` to the recording (see the module docstring)."""
    transcript = parse_transcript(params["transcript"])
    progress.report(0.0, "reading the transcript aloud")
    rendering = render(transcript, voice=str(params["voice"]), speed_wpm=int(params["speed_wpm"]), progress=progress)
    progress.check()
    al = align(media.samples, media.rate, rendering, progress=progress.sub(0.03, 0.4))
    presence = presence_mod.word_presence(al, progress=progress.sub(0.43, 0.15))
    thresholds = presence_mod.thresholds(al.synthetic_spans_s)
    scores = presence_mod.alignment_scores(presence, thresholds)
    flagged = presence < thresholds
    progress.report(0.58, "attention map")
    matrix = attention_matrix(al, progress=progress.sub(0.58, 0.17))
    track = None
    phrases: list[prosody.PhraseProsody] = []
    if params["prosody"]:
        track = prosody.pitch_track(analysis_signal(media.samples, rate=media.rate), rate=RATE,
                                    start_s=float(al.spans_s[:, 0].min()) - 0.2, end_s=float(al.spans_s[:, 1].max()) + 0.2,
                                    progress=progress.sub(0.75, 0.2))
        phrases = prosody.phrase_prosody(track, al.spans_s, al.synthetic_spans_s, ~flagged, progress=progress)
    progress.report(0.97, "findings")
    words = _word_details(al, presence, scores, flagged, track)
    spans = al.spans_s
    overview = Finding(
        label="Transcript alignment", fake_likelihood=None, start_s=round(float(spans[:, 0].min()), 3),
        end_s=round(float(spans[:, 1].max()), 3),
        details={
            "explanation": EXPLANATION, "voice": rendering.voice, "n_words": len(words),
            "poorly_aligned_words": int(flagged.sum()),
            "implausibly_regular_phrases": sum(1 for p in phrases if p.reasons),
            "synthetic_duration_s": round(rendering.duration_s, 3),
            "presence_thresholds": {"words": presence_mod.PRESENCE_THRESHOLD,
                                    "short_words": presence_mod.SHORT_PRESENCE_THRESHOLD,
                                    "short_word_s": presence_mod.SHORT_WORD_S},
            "words": words,
        },
        series=(_pitch_lane(track),) if track is not None else (),
        alignments=(matrix,),
    )
    findings = [overview]
    for w in np.flatnonzero(flagged):
        findings.append(Finding(
            label=f"Poorly aligned word: '{al.words[w]}'", fake_likelihood=None, start_s=round(float(spans[w, 0]), 3),
            end_s=round(float(spans[w, 1]), 3),
            details={"word": al.words[w], "word_index": int(w), "presence": round(float(presence[w]), 4),
                     "threshold": float(thresholds[w]), "alignment_score": round(float(scores[w]), 3),
                     "explanation": "The word fits this stretch of the recording no better than leaving it out: "
                                    "the speaker may have skipped, moved or replaced it, or the transcript differs "
                                    "here. The span is where the alignment had to put it."},
        ))
    for p in phrases:
        if not p.reasons:
            continue
        findings.append(Finding(
            label="Implausibly regular prosody", fake_likelihood=None, start_s=round(p.start_s, 3),
            end_s=round(p.end_s, 3),
            details={"word": " ".join(al.words[p.first:p.end]), "word_index": p.first,
                     "word_indices": list(range(p.first, p.end)), "reasons": list(p.reasons),
                     "pitch_d2_cents": None if not np.isfinite(p.pitch_d2_cents) else round(p.pitch_d2_cents, 3),
                     "voiced_frames": p.voiced_frames,
                     "duration_spread": None if not np.isfinite(p.duration_spread) else round(p.duration_spread, 4),
                     "thresholds": {"pitch_d2_cents": prosody.PITCH_D2_THRESHOLD,
                                    "duration_spread": prosody.DURATION_SPREAD_THRESHOLD}},
        ))
    progress.report(1.0, "done")
    summary = {"n_words": len(words), "voice": rendering.voice, "poorly_aligned_words": int(flagged.sum()),
               "implausibly_regular_phrases": overview.details["implausibly_regular_phrases"],
               "band_width_states": int(al.band_width), "prosody": bool(params["prosody"])}
    return AnalysisResult(findings=tuple(findings), summary=summary)
