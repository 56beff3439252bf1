"""Speaker similarity between a questioned and a reference recording, segment by segment.

Both recordings are reduced to their speech (frames outside the speech-activity mask of
:mod:`forensics_app.alignment.frontend` are cut out, as Resemblyzer trims long silences) and
scaled to -30 dBFS. The GE2E encoder (:mod:`forensics_app.alignment.speaker_encoder`) embeds
partial utterances of 1.6 s of speech:

* **Reference voice.** Partials every 0.8 s over the reference speech; their mean, scaled to unit
  length, is the reference voice print. Each partial's similarity to the print (leave-one-out
  when there are several) says how much one voice varies from segment to segment: the
  *self-similarity* spread.
* **Questioned lane.** Partials every ``hop_s`` seconds of questioned speech, each placed at the
  median original time of its frames, and its cosine similarity with the reference print.

A segment is *below* the reference when its similarity falls under the speaker threshold:
``min(absolute, low self-similarity - margin)``, where the low self-similarity is the 10th
percentile of the reference partials' (at least 3) similarities to the print. Runs of at least
two consecutive segments below it become speaker changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.alignment import speaker_encoder as se
from forensics_app.alignment.frontend import HOP_S, RATE
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress

__all__ = ["VoicePrint", "SpeakerLane", "SpeakerChange", "voice_print", "speaker_lane", "speaker_changes",
           "speech_only", "ABSOLUTE_THRESHOLD", "MARGIN"]

ABSOLUTE_THRESHOLD = 0.72
"""Cosine similarity under which a 1.6 s segment is not taken for the reference voice. Chosen on 12
LibriSpeech speakers; measured on 26 validation speakers of the corpus split (reference = first
half of an utterance): 263 segments of the same speaker's second half scored 0.71 at the lowest
(5th percentile 0.75, median 0.86; 1.1 % under 0.72), 527 segments of another speaker 0.73 at the
highest (95th percentile 0.67, median 0.54; 0.4 % at or over 0.72)."""
MARGIN = 0.05
"""Below the reference's own low self-similarity, the questioned similarity must fall by this much."""
REFERENCE_HOP_S = 0.8


@dataclass(frozen=True)
class VoicePrint:
    """The reference voice.

    Attributes
    ----------
    embedding : np.ndarray
        Shape (256,), unit length.
    self_similarity : np.ndarray
        Shape (k,), each reference partial's cosine similarity with the print (leave-one-out).
    speech_s : float
        Reference speech used (s).
    """

    embedding: np.ndarray
    self_similarity: np.ndarray
    speech_s: float

    def threshold(self) -> float:
        """Speaker threshold (see the module docstring)."""
        if self.self_similarity.size >= 3:
            return float(min(ABSOLUTE_THRESHOLD, np.percentile(self.self_similarity, 10) - MARGIN))
        return ABSOLUTE_THRESHOLD


@dataclass(frozen=True)
class SpeakerLane:
    """Questioned segments against the reference print.

    Attributes
    ----------
    times_s : np.ndarray
        Shape (k,), where each segment lies in the questioned recording (median time of its
        speech frames, s).
    starts_s, ends_s : np.ndarray
        Shape (k,), first and last speech frame of each segment (s).
    similarity : np.ndarray
        Shape (k,), cosine similarity with the reference print, in [0, 1].
    """

    times_s: np.ndarray
    starts_s: np.ndarray
    ends_s: np.ndarray
    similarity: np.ndarray


@dataclass(frozen=True)
class SpeakerChange:
    """A questioned span whose voice is not the reference's.

    Attributes
    ----------
    start_s, end_s : float
        Span in the questioned recording (s).
    mean_similarity, min_similarity : float
        Cosine similarity over the span's segments.
    n_segments : int
        Segments in the span.
    """

    start_s: float
    end_s: float
    mean_similarity: float
    min_similarity: float
    n_segments: int


def speech_only(wave: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The speech of a prepared recording, silences cut out, at -30 dBFS RMS.

    Parameters
    ----------
    wave : np.ndarray
        Shape (n,), float32 at 16 kHz.
    active : np.ndarray
        Shape (n_frames,), bool speech activity of frames every 10 ms.

    Returns
    -------
    speech : np.ndarray
        Shape (n_speech,), float32.
    times_s : np.ndarray
        Shape (n_speech // 160,), original time (s) of each 10 ms block of ``speech``.
    """
    hop = int(round(HOP_S * RATE))
    frames = np.flatnonzero(active)
    starts = frames * hop - hop // 2
    keep = (starts >= 0) & (starts + hop <= len(wave))
    frames, starts = frames[keep], starts[keep]
    if not frames.size:
        return np.zeros(0, np.float32), np.zeros(0)
    idx = (starts[:, None] + np.arange(hop)[None, :]).reshape(-1)
    speech = wave[idx].astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64))))
    if rms > 0:
        speech *= np.float32(10.0 ** (se.TARGET_DBFS / 20.0) / rms)
    return speech, frames * HOP_S


def _partials(speech: np.ndarray, hop_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Mel partials of 160 frames every ``hop_frames`` frames; the last one is padded.

    Returns
    -------
    partials : np.ndarray
        Shape (k, 160, 40).
    first : np.ndarray
        Shape (k,), first mel frame of each partial.
    """
    mel = se.mel_frames(speech)
    n = mel.shape[0]
    if n < se.PARTIAL_FRAMES:
        mel = np.pad(mel, ((0, se.PARTIAL_FRAMES - n), (0, 0)))
    firsts = list(range(0, max(1, n - se.PARTIAL_FRAMES + 1), hop_frames))
    if n > se.PARTIAL_FRAMES and firsts[-1] + se.PARTIAL_FRAMES < n - hop_frames // 2:
        firsts.append(n - se.PARTIAL_FRAMES)
    first = np.asarray(firsts, np.int64)
    return np.stack([mel[f:f + se.PARTIAL_FRAMES] for f in first]), first


def voice_print(encoder: se.GE2EEncoder, wave: np.ndarray, active: np.ndarray) -> VoicePrint:
    """The reference voice print (see the module docstring).

    Parameters
    ----------
    encoder : GE2EEncoder
    wave : np.ndarray
        Shape (n,), prepared reference at 16 kHz.
    active : np.ndarray
        Shape (n_frames,), bool speech activity.

    Raises
    ------
    AnalyzerError
        Less than 1 s of reference speech.
    """
    speech, _ = speech_only(wave, active)
    if len(speech) < RATE:
        raise AnalyzerError(f"the reference holds {len(speech) / RATE:.1f} s of speech; the speaker comparison "
                            "needs at least 1 s")
    partials, _ = _partials(speech, int(round(REFERENCE_HOP_S / HOP_S)))
    emb = se.embed(encoder, partials)
    total = emb.sum(axis=0)
    centroid = total / np.linalg.norm(total)
    if len(emb) > 1:
        others = total[None, :] - emb
        others /= np.linalg.norm(others, axis=1, keepdims=True)
        selfsim = np.sum(emb * others, axis=1)
    else:
        selfsim = np.sum(emb * centroid[None, :], axis=1)
    return VoicePrint(embedding=centroid.astype(np.float32), self_similarity=selfsim.astype(np.float64),
                      speech_s=len(speech) / RATE)


def speaker_lane(encoder: se.GE2EEncoder, wave: np.ndarray, active: np.ndarray, reference: VoicePrint, *,
                 hop_s: float = 0.4, progress: Progress | None = None) -> SpeakerLane:
    """Similarity of questioned speech segments with the reference print.

    Parameters
    ----------
    encoder : GE2EEncoder
    wave : np.ndarray
        Shape (n,), prepared questioned recording at 16 kHz.
    active : np.ndarray
        Shape (n_frames,), bool speech activity.
    reference : VoicePrint
    hop_s : float
        Seconds of speech between segments.
    progress : Progress, optional
        Checked for cancel between batches.

    Returns
    -------
    SpeakerLane
        Empty when the questioned recording holds less than 0.5 s of speech.
    """
    speech, block_times = speech_only(wave, active)
    if len(speech) < RATE // 2:
        empty = np.zeros(0)
        return SpeakerLane(times_s=empty, starts_s=empty, ends_s=empty, similarity=empty)
    partials, first = _partials(speech, max(1, int(round(hop_s / HOP_S))))
    sims = []
    batch = 32
    for i in range(0, len(partials), batch):
        if progress is not None:
            progress.check()
            progress.report(i / len(partials), "speaker similarity")
        emb = se.embed(encoder, partials[i:i + batch])
        sims.append(emb @ reference.embedding)
    last = len(block_times) - 1
    lo = np.minimum(first, last)
    hi = np.minimum(first + se.PARTIAL_FRAMES - 1, last)
    centre = np.array([np.median(block_times[a:b + 1]) for a, b in zip(lo, hi, strict=True)])
    return SpeakerLane(times_s=centre, starts_s=block_times[lo], ends_s=block_times[hi] + HOP_S,
                       similarity=np.concatenate(sims).astype(np.float64))


def speaker_changes(lane: SpeakerLane, *, threshold: float, min_segments: int = 2) -> list[SpeakerChange]:
    """Runs of at least ``min_segments`` consecutive segments below ``threshold``.

    Returns
    -------
    list of SpeakerChange
        In time order; a change spans from the first segment's centre to the last one's
        (segments overlap, so their edges would overstate it), widened by half a segment hop.
    """
    below = lane.similarity < threshold
    d = np.diff(np.concatenate([[0], below.astype(np.int8), [0]]))
    out = []
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
        if b - a < min_segments:
            continue
        half = 0.5 * float(np.median(np.diff(lane.times_s))) if lane.times_s.size > 1 else 0.0
        seg = lane.similarity[a:b]
        out.append(SpeakerChange(start_s=max(float(lane.times_s[a]) - half, 0.0),
                                 end_s=float(lane.times_s[b - 1]) + half,
                                 mean_similarity=float(np.mean(seg)), min_similarity=float(np.min(seg)),
                                 n_segments=int(b - a)))
    return out
