"""Reference comparison: align a questioned recording with a known genuine one and report departures.

The investigator marks an evidence item as a known genuine reference (the same event, e.g. a
broadcast against a "leaked" copy, or the same speaker) and compares a questioned item with it.
Both recordings (any rate, channel count, level, codec and length, long silences included) go
through the common front end and are aligned by banded DTW (:mod:`forensics_app.alignment`).

Findings, in this order:

* "Too little shared material to compare" (only when the recordings share too little: the
  measured figures, and no departure findings);
* "Alignment with reference": the attention map ``reference-alignment`` (cosine similarity of
  questioned columns against reference rows, at most 600 x 600 cells) with the path; lanes
  ``reference-spectral-difference`` (dB), ``reference-mismatch`` (cosine distance) and
  ``speaker-similarity`` (cosine); details with the slope, coverage and shared material;
* one "Inserted span" / "Deleted span" / "Replaced span" per departure, with its times in both
  recordings;
* one "Pause lengthened" / "Pause shortened" per pause whose length differs by at least
  ``min_pause_change_s`` between the two (silence inserted or cut out: pauses stretch freely in
  the alignment, so they are never departures), with its times in both recordings;
* one "Speaker differs from reference" per run of questioned speech whose voice is not the
  reference's (also when the content is not shared: a same-speaker reference).

All findings are descriptive (no FakeLikelihood): a departure says the copy differs from this
reference, not how it came to differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AlignmentMatrix, AnalysisResult, Finding, TimeSeries

if TYPE_CHECKING:  # numba, librosa and torch load only when a comparison runs
    from forensics_app.alignment.compare import Comparison
    from forensics_app.alignment.departures import Departure
    from forensics_app.alignment.frontend import Features, Prepared
    from forensics_app.alignment.matrix import DisplayMatrix
    from forensics_app.alignment.pauses import PauseChange
    from forensics_app.alignment.speaker_similarity import SpeakerChange, SpeakerLane
    from forensics_app.alignment.spectral_difference import SpectralDifference

PARAMS = [
    Param("reference_id", 0, "Reference evidence id (a known genuine recording)", 0),
    Param("threshold", 0.5, "Mismatch (cosine distance) above which aligned speech does not match", 0.2, 1.0),
    Param("min_span_s", 0.12, "Shortest departure reported (s of speech)", 0.03, 10.0),
    Param("speaker", True, "Compare the voices with the GE2E speaker encoder (Resemblyzer's weights)"),
    Param("segment_s", 0.25, "Segment length of the spectral-difference and mismatch lanes (s)", 0.05, 5.0),
    Param("min_pause_change_s", 0.5, "Smallest change of a pause's length reported (s)", 0.05, 60.0),
]

LABELS = {"inserted": "Inserted span", "deleted": "Deleted span", "replaced": "Replaced span"}

EXPLANATION = (
    "The map compares every moment of the questioned recording (left to right) with every moment of the "
    "reference (bottom to top); a bright cell means the two sound alike. Where the questioned copy holds the "
    "same material as the reference, a bright line runs through the map and the drawn path follows it. A "
    "straight path means the same material in the same order; its steepness is the speed ratio (slope: "
    "reference seconds per questioned second, 1 = same speed). A flat stretch of the path is questioned "
    "material the reference lacks (inserted), a vertical stretch is reference material missing from the "
    "questioned copy (deleted), and a stretch with no bright line under it is material that differs "
    "(replaced); each becomes a finding with its times in both recordings. Pauses may be longer or shorter "
    "in either copy and are not reported. The spectral-difference lane shows how far the aligned spectra "
    "differ once a constant difference of channel (level, equalisation, codec) is taken out. What it cannot "
    "show: it compares sound, not meaning, so an edit that keeps the sound (a word re-spoken the same way, a "
    "cut inside a pause) can pass unseen; departures with less than {min_span:.2f} s of speech are not "
    "reported; agreement only says that the questioned copy matches this reference, not that the "
    "reference itself is authentic. {bins}"
)

SPEAKER_EXPLANATION = (
    "The speaker-similarity lane compares the voice in each 1.6 s of questioned speech with the voice of the "
    "whole reference, using a pretrained speaker encoder (GE2E, the weights shipped with Resemblyzer): 1 means "
    "the same voice print, values under about 0.7 are usually another speaker. A run of segments below the "
    "threshold (set from how much the reference's own segments vary) becomes a finding. What it cannot show: "
    "a skilled imitation or a voice clone of the reference speaker can score like the speaker; noise, music, "
    "several voices at once, or a very different channel lower the similarity of the right speaker; a segment "
    "smears over 1.6 s of speech, so the edges of a change are approximate."
)


def _lane(name: str, unit: str, times: np.ndarray, values: np.ndarray) -> TimeSeries:
    return TimeSeries(name=name, unit=unit, times_s=np.asarray(times, np.float64),
                      values=np.asarray(values, np.float64))


def _mismatch_lane(c: Comparison, segment_s: float) -> TimeSeries:
    """Largest smoothed mismatch of the path steps on questioned speech, per segment (NaN: no speech)."""
    from forensics_app.alignment import departures as dep
    from forensics_app.alignment.frontend import HOP_S

    sm = dep.mismatch(c.path, c.questioned_features.active, c.reference_features.active)
    on = c.questioned_features.active[c.path.q]
    n_seg = max(1, int(np.ceil(c.questioned_features.n_frames * HOP_S / segment_s)))
    seg = np.minimum((c.path.q[on] * HOP_S / segment_s).astype(np.int64), n_seg - 1)
    values = np.full(n_seg, -np.inf)
    np.maximum.at(values, seg, sm[on])
    values[np.isinf(values)] = np.nan
    return _lane("reference-mismatch", "cosine distance", (np.arange(n_seg) + 0.5) * segment_s, values)


def _recording(prepared: Prepared, features: Features) -> dict[str, Any]:
    return {"duration_s": round(prepared.duration_s, 3), "source_rate_hz": prepared.source_rate,
            "channels": prepared.source_channels, "gain_db": round(prepared.gain_db, 2),
            "speech_s": round(features.active_s, 2)}


def _figures(c: Comparison) -> dict[str, Any]:
    s, b = c.summary, c.base_summary
    return {
        "slope": None if s.slope is None else round(s.slope, 4),
        "coverage": round(s.coverage, 4), "shared_s": round(s.shared_s, 2),
        "reference_coverage": round(s.reference_coverage, 4), "longest_shared_s": round(s.longest_shared_s, 2),
        "path_deviation_s": None if s.path_deviation_s is None else round(s.path_deviation_s, 4),
        "median_mismatch": None if np.isnan(s.median_mismatch) else round(s.median_mismatch, 4),
        "threshold": round(c.threshold, 3),
        "base": {"coverage": round(b.coverage, 4), "shared_s": round(b.shared_s, 2),
                 "longest_shared_s": round(b.longest_shared_s, 2)},
    }


def _speaker(q_prep: Prepared, q_feat: Features, r_prep: Prepared, r_feat: Features,
             progress: Progress) -> tuple[SpeakerLane | None, float, dict[str, Any]]:
    """Speaker lane, threshold and details; (None, nan, reason) when it cannot run."""
    from forensics_app.alignment import speaker_encoder as se
    from forensics_app.alignment import speaker_similarity as ss

    try:
        encoder = se.load_encoder()
    except AnalyzerError as exc:  # the alignment stands without the voice comparison
        return None, float("nan"), {"skipped": str(exc)}
    reference = ss.voice_print(encoder, r_prep.wave, r_feat.active)
    progress.check()
    lane = ss.speaker_lane(encoder, q_prep.wave, q_feat.active, reference, progress=progress)
    threshold = reference.threshold()
    info = {"threshold": round(threshold, 4), "reference_speech_s": round(reference.speech_s, 2),
            "reference_self_similarity_p10": round(float(np.percentile(reference.self_similarity, 10)), 4),
            "segments": int(lane.similarity.size),
            "device": str(next(encoder.parameters()).device), "encoder": "GE2E (Resemblyzer pretrained.pt)"}
    if lane.similarity.size:
        info.update(median_similarity=round(float(np.median(lane.similarity)), 4),
                    min_similarity=round(float(np.min(lane.similarity)), 4))
    return lane, threshold, info


def _overview(c: Comparison, lanes: list[TimeSeries], disp: DisplayMatrix, spec: SpectralDifference,
              speaker_info: dict[str, Any], n_changes: int, *, min_span_s: float, duration_s: float) -> Finding:
    """The "Alignment with reference" finding: map, lanes, figures and the plain-language explanation."""
    from forensics_app.alignment.frontend import HOP_S
    from forensics_app.alignment.matrix import MAX_SIDE

    if disp.frames_per_column == 1 and disp.frames_per_row == 1:
        bins = f"This recording pair is shown frame by frame ({HOP_S * 1000:.0f} ms)."
    else:
        bins = (f"To fit {MAX_SIDE} x {MAX_SIDE} cells the map averages {disp.frames_per_column * HOP_S:.2f} s per "
                f"column and {disp.frames_per_row * HOP_S:.2f} s per row, which blurs single sounds (the path and "
                f"the findings are computed every {HOP_S * 1000:.0f} ms).")
    matrix = AlignmentMatrix(name="reference-alignment", unit="cosine similarity", times_s=disp.times_s,
                             row_times_s=disp.row_times_s, values=disp.values, path=disp.path,
                             row_axis="reference recording (s)")
    details = {
        **_figures(c), "enough_shared": c.enough_shared,
        "departures": {k: sum(d.kind == k for d in c.departures) for k in LABELS},
        "speaker_changes": n_changes, "questioned": _recording(c.questioned, c.questioned_features),
        "reference": _recording(c.reference, c.reference_features),
        "spectral_difference": {
            "median_shared_db": None if np.isnan(spec.median_shared_db) else round(spec.median_shared_db, 2),
            "channel_db": [round(float(x), 2) for x in spec.channel_db],
            "band_hz": [round(float(x), 1) for x in spec.band_hz]},
        "speaker": speaker_info,
        "map": {"frames_per_column": disp.frames_per_column, "frames_per_row": disp.frames_per_row,
                "band_cells": c.path.band_cells},
        "explanation": EXPLANATION.format(min_span=min_span_s, bins=bins),
        "speaker_explanation": SPEAKER_EXPLANATION,
    }
    return Finding(label="Alignment with reference", fake_likelihood=None, start_s=0.0, end_s=round(duration_s, 6),
                   details=details, series=tuple(lanes), alignments=(matrix,))


def _too_little(c: Comparison, required: dict[str, float]) -> Finding:
    """The descriptive finding for recordings that do not share enough material."""
    b = c.base_summary
    return Finding(
        label="Too little shared material to compare", fake_likelihood=None,
        details={**_figures(c), "questioned_speech_s": round(c.questioned_features.active_s, 2),
                 "reference_speech_s": round(c.reference_features.active_s, 2), "required": required,
                 "explanation": (
                     f"Only {b.shared_s:.1f} s of the questioned speech ({100 * b.coverage:.0f} %) found matching "
                     f"material in the reference, the longest run {b.longest_shared_s:.1f} s: the two recordings do "
                     "not hold the same material, so no inserted, deleted or replaced spans are reported. The "
                     "speaker comparison still applies if the reference is the same speaker.")})


def _departure_finding(d: Departure, threshold: float) -> Finding:
    return Finding(
        label=LABELS[d.kind], fake_likelihood=None, start_s=round(d.start_s, 4), end_s=round(d.end_s, 4),
        details={"kind": d.kind, "reference_start_s": round(d.reference_start_s, 4),
                 "reference_end_s": round(d.reference_end_s, 4),
                 "questioned_speech_s": round(d.questioned_speech_s, 3),
                 "reference_speech_s": round(d.reference_speech_s, 3), "mismatch": round(d.mismatch, 4),
                 "threshold": round(threshold, 3), "explanation": _departure_text(d)})


def _pauses(c: Comparison, cparams: Any, min_change_s: float) -> list[PauseChange]:
    """Pauses lengthened or shortened outside the departures (:mod:`forensics_app.alignment.pauses`)."""
    from forensics_app.alignment import departures as dep
    from forensics_app.alignment.compare import HOP_S
    from forensics_app.alignment.pauses import pause_changes

    aq, ar = c.questioned_features.active, c.reference_features.active
    dparams = replace(cparams.departures, threshold=c.threshold)
    unmatched, _ = dep.unmatched_steps(c.path, aq, ar, hop_s=HOP_S, params=dparams)
    return pause_changes(c.path, aq, ar, hop_s=HOP_S, unmatched=unmatched, min_change_s=min_change_s)


def _pause_finding(p: PauseChange) -> Finding:
    longer = p.change_s > 0
    text = (f"The pause from {p.start_s:.2f} s to {p.end_s:.2f} s holds {p.questioned_s:.2f} s of silence; the "
            f"same pause in the reference ({p.reference_start_s:.2f} s to {p.reference_end_s:.2f} s) holds "
            f"{p.reference_s:.2f} s: {abs(p.change_s):.2f} s of silence {'inserted' if longer else 'cut out'} "
            "(or a pause that a new reading made longer or shorter, when the two are not copies of one event).")
    return Finding(
        label=f"Pause {'lengthened' if longer else 'shortened'} by {abs(p.change_s):.2f} s", fake_likelihood=None,
        start_s=round(p.start_s, 4), end_s=round(p.end_s, 4),
        details={"kind": "pause_lengthened" if longer else "pause_shortened",
                 "reference_start_s": round(p.reference_start_s, 4), "reference_end_s": round(p.reference_end_s, 4),
                 "questioned_pause_s": round(p.questioned_s, 3), "reference_pause_s": round(p.reference_s, 3),
                 "change_s": round(p.change_s, 3), "explanation": text})


def _speaker_finding(ch: SpeakerChange, threshold: float | None) -> Finding:
    return Finding(
        label="Speaker differs from reference", fake_likelihood=None, start_s=round(ch.start_s, 4),
        end_s=round(ch.end_s, 4),
        details={"mean_similarity": round(ch.mean_similarity, 4), "min_similarity": round(ch.min_similarity, 4),
                 "threshold": threshold, "segments": ch.n_segments, "explanation": SPEAKER_EXPLANATION})


@analyzer(id="audio.reference_comparison", version="1.0.0", media=[MediaKind.AUDIO],
          label="Reference comparison", params=PARAMS, reference=True,
          description="Align the recording with a known genuine reference: attention map, inserted, deleted and "
                      "replaced spans with times in both recordings, spectral difference and speaker similarity")
def reference_comparison(media: AudioClip, *, params: Mapping[str, Any], progress: Progress,
                         reference: AudioClip) -> AnalysisResult:
    """Compare the questioned recording with the reference recording."""
    from forensics_app.alignment import compare as cmp
    from forensics_app.alignment import frontend
    from forensics_app.alignment.matrix import display_matrix
    from forensics_app.alignment.spectral_difference import spectral_difference

    if not isinstance(reference, AudioClip):
        raise AnalyzerError("the reference comparison needs a decoded audio reference")
    progress.check()
    progress.report(0.0, "analysing the questioned recording")
    q_prep, q_feat = frontend.analyse(np.asarray(media.samples), rate=media.rate)
    progress.check()
    progress.report(0.08, "analysing the reference recording")
    r_prep, r_feat = frontend.analyse(np.asarray(reference.samples), rate=reference.rate)
    progress.check()
    defaults = cmp.ComparisonParams()
    cparams = replace(defaults, departures=replace(defaults.departures, threshold=float(params["threshold"]),
                                                   min_span_s=float(params["min_span_s"])))
    c = cmp.compare_features(q_prep, q_feat, r_prep, r_feat, params=cparams, progress=progress.sub(0.15, 0.4))
    progress.check()
    progress.report(0.58, "measuring spectral differences")
    segment_s = float(params["segment_s"])
    spec = spectral_difference(q_feat, r_feat, c.path, c.shared, segment_s=segment_s)
    lanes = [_lane("reference-spectral-difference", "dB", spec.times_s, spec.content_db), _mismatch_lane(c, segment_s)]
    disp = display_matrix(q_feat, r_feat, c.path)
    progress.check()

    speaker_info: dict[str, Any] = {"skipped": "turned off (speaker=false)"}
    changes: list[SpeakerChange] = []
    if params["speaker"]:
        from forensics_app.alignment.speaker_similarity import speaker_changes

        progress.report(0.62, "comparing the voices")
        s_lane, s_threshold, speaker_info = _speaker(q_prep, q_feat, r_prep, r_feat, progress.sub(0.62, 0.35))
        if s_lane is not None and s_lane.similarity.size:
            lanes.append(_lane("speaker-similarity", "cosine", s_lane.times_s, s_lane.similarity))
            changes = speaker_changes(s_lane, threshold=s_threshold)
        elif s_lane is not None:
            speaker_info["skipped"] = "the questioned recording holds less than 0.5 s of speech"
    progress.check()
    progress.report(0.98, "writing findings")

    findings: list[Finding] = []
    if not c.enough_shared:
        findings.append(_too_little(c, {"coverage": cparams.min_coverage, "or_shared_s": cparams.min_shared_s,
                                        "longest_shared_s": cparams.min_longest_s}))
    findings.append(_overview(c, lanes, disp, spec, speaker_info, len(changes),
                              min_span_s=float(params["min_span_s"]), duration_s=media.duration_s))
    findings += [_departure_finding(d, c.threshold) for d in c.departures]
    pauses = _pauses(c, cparams, float(params["min_pause_change_s"])) if c.enough_shared else []
    findings += [_pause_finding(p) for p in pauses]
    findings += [_speaker_finding(ch, speaker_info.get("threshold")) for ch in changes]
    figures = _figures(c)
    summary = {"enough_shared": c.enough_shared, "departures": len(c.departures), "speaker_changes": len(changes),
               "pause_changes": len(pauses),
               "slope": figures["slope"], "coverage": figures["coverage"], "threshold": figures["threshold"],
               "speaker_skipped": speaker_info.get("skipped")}
    return AnalysisResult(findings=tuple(findings), summary=summary)


def _departure_text(d: Departure) -> str:
    """One sentence on a departure, with its times in both recordings."""
    if d.kind == "inserted":
        return (f"{d.questioned_speech_s:.2f} s of questioned speech from {d.start_s:.2f} s to {d.end_s:.2f} s has no "
                f"counterpart in the reference; it sits where the reference reaches {d.reference_start_s:.2f} s.")
    if d.kind == "deleted":
        return (f"The reference from {d.reference_start_s:.2f} s to {d.reference_end_s:.2f} s "
                f"({d.reference_speech_s:.2f} s of speech) is missing from the questioned recording, which cuts "
                f"at {d.start_s:.2f} s.")
    return (f"The questioned recording from {d.start_s:.2f} s to {d.end_s:.2f} s does not match the reference "
            f"material it aligns with ({d.reference_start_s:.2f} s to {d.reference_end_s:.2f} s).")
