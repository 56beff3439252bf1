"""The reference comparison on generated ground truth: eSpeak NG words with known boundaries.

Each word is synthesised on its own (``espeak-ng --stdout``), trimmed to its samples and joined
with pauses of about 120 ms over a faint noise floor, so every word's start and end are known to
the sample. Questioned copies are edited (a word replaced, inserted, deleted), time-stretched, or
passed through a different channel, and compared with the unedited reference.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.domain.results import AnalysisResult, Finding
from forensics_app.training.audio_io import read_mono, resample

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (Debian package espeak-ng)")

RATE = 16000
WORDS = "the old captain carried a heavy wooden basket across the narrow bridge before dawn".split()
OTHER = "a quiet teacher visited the distant village after dinner and listened to the children".split()
DEPARTURES = {"Inserted span", "Deleted span", "Replaced span"}
HAVE_RESEMBLYZER = importlib.util.find_spec("resemblyzer") is not None
SHARED = Path(os.environ.get("FORENSICS_APP_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
CORPUS = SHARED / "datasets" / "librispeech-train-clean-100-200spk"

module = importlib.import_module("forensics_app.analysis.resynthesis.reference_comparison")


@lru_cache(maxsize=64)
def word(text: str, voice: str = "en-us") -> np.ndarray:
    """One word at 16 kHz, trimmed to its first and last sample above -60 dBFS."""
    out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    x, rate = sf.read(io.BytesIO(out), dtype="float32")
    x = resample(x, src_rate=rate, dst_rate=RATE)
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[loud[0]:loud[-1] + 1].copy()
    x.setflags(write=False)
    return x


def sentence(words: list[str], *, seed: int, voices: list[str] | None = None) -> tuple[np.ndarray, list[tuple]]:
    """Words joined by pauses of 96-144 ms over noise at -65 dBFS; returns the signal and each word's (start, end) s."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(0.3 * RATE), np.float32)]
    spans = []
    for k, w in enumerate(words):
        x = word(w, voices[k] if voices else "en-us")
        start = sum(len(p) for p in parts) / RATE
        spans.append((start, start + len(x) / RATE))
        parts += [x, np.zeros(int(rng.uniform(0.8, 1.2) * 0.12 * RATE), np.float32)]
    parts.append(np.zeros(int(0.3 * RATE), np.float32))
    y = np.concatenate(parts)
    y += (10 ** (-65 / 20) * rng.standard_normal(len(y))).astype(np.float32)
    return y, spans


def clip(x: np.ndarray, rate: int = RATE) -> AudioClip:
    return AudioClip(samples=np.asarray(x, np.float32).reshape(len(x), -1), rate=rate, path=Path("generated.wav"))


def compare(questioned: AudioClip, reference: AudioClip, progress: ProgressToken | None = None,
            **params: object) -> AnalysisResult:
    info = registry.get("audio.reference_comparison")
    resolved = info.resolve_params({"reference_id": 2, "speaker": HAVE_RESEMBLYZER, **params})
    return module.reference_comparison(questioned, params=resolved, progress=progress or ProgressToken(),
                                       reference=reference)


def by_label(result: AnalysisResult, label: str) -> list[Finding]:
    return [f for f in result.findings if f.label == label]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """The speaker encoder runs torch on one CPU thread (shared 2-core machines)."""


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, list[tuple]]:
    return sentence(WORDS, seed=1)


def test_a_replaced_word_is_found_within_100_ms(reference: tuple) -> None:
    ref, ref_spans = reference
    edited = list(WORDS)
    edited[6] = "silver"  # "wooden" replaced by a word rendered elsewhere
    q, q_spans = sentence(edited, seed=2)
    result = compare(clip(q), clip(ref))
    overview = by_label(result, "Alignment with reference")[0]
    assert overview.details["enough_shared"] and overview.details["coverage"] > 0.8
    assert [f.label for f in result.findings if f.label in DEPARTURES] == ["Replaced span"]
    (found,) = by_label(result, "Replaced span")
    assert found.fake_likelihood is None and found.details["kind"] == "replaced"
    assert abs(found.start_s - q_spans[6][0]) <= 0.1 and abs(found.end_s - q_spans[6][1]) <= 0.1
    assert abs(found.details["reference_start_s"] - ref_spans[6][0]) <= 0.1
    assert abs(found.details["reference_end_s"] - ref_spans[6][1]) <= 0.1
    lanes = {s.name: s for s in overview.series}
    diff = lanes["reference-spectral-difference"]
    assert diff.unit == "dB"
    inside = (diff.times_s > q_spans[6][0] + 0.1) & (diff.times_s < q_spans[6][1] - 0.1)
    shared = (diff.times_s > 1.0) & (diff.times_s < 3.0)
    assert np.nanmedian(diff.values[inside]) > 2 * np.nanmedian(diff.values[shared])
    assert "cannot show" in overview.details["explanation"]


@pytest.mark.parametrize("rate", [0.9, 1.1])
def test_a_time_stretched_copy_aligns_on_a_straight_path_of_the_right_slope(reference: tuple, rate: float) -> None:
    import librosa

    ref, _ = reference
    q = librosa.effects.time_stretch(ref, rate=rate)
    result = compare(clip(q), clip(ref), speaker=False)
    overview = by_label(result, "Alignment with reference")[0]
    assert overview.details["slope"] == pytest.approx(rate, rel=0.03)
    assert overview.details["path_deviation_s"] < 0.05
    assert not [f for f in result.findings if f.label in DEPARTURES]
    (matrix,) = overview.alignments
    frames_per_row = overview.details["map"]["frames_per_row"]
    t_ref = (matrix.path[:, 1] * frames_per_row + 0.5 * (frames_per_row - 1)) * 0.01
    speech = (matrix.path[:, 0] > 0.5) & (matrix.path[:, 0] < q.size / RATE - 0.5)
    fit = np.polyfit(matrix.path[speech, 0], t_ref[speech], 1)
    assert fit[0] == pytest.approx(rate, rel=0.03)
    assert np.max(np.abs(np.polyval(fit, matrix.path[speech, 0]) - t_ref[speech])) < 0.15


def test_rate_channels_level_codec_and_an_inserted_silence_do_not_make_departures(reference: tuple) -> None:
    from forensics_app.training.augment import reencode

    ref, ref_spans = reference
    hi = resample(ref, src_rate=RATE, dst_rate=44100)
    hi = reencode(hi, rate=44100, codec="mp3", bitrate=64000) * np.float32(10 ** (-12 / 20))
    cut = int((ref_spans[5][1] + 0.03) * 44100)  # in the pause after "heavy"
    silence = (1e-4 * np.random.default_rng(9).standard_normal(4 * 44100)).astype(np.float32)
    q = np.concatenate([hi[:cut], silence, hi[cut:]])
    result = compare(clip(np.stack([q, 0.8 * q], axis=1), rate=44100), clip(ref))
    overview = by_label(result, "Alignment with reference")[0]
    assert not [f for f in result.findings if f.label in DEPARTURES]
    assert not by_label(result, "Speaker differs from reference")
    assert overview.details["coverage"] > 0.9 and overview.details["slope"] == pytest.approx(1.0, abs=0.02)
    assert overview.details["questioned"]["source_rate_hz"] == 44100 and overview.details["questioned"]["channels"] == 2
    # across the inserted silence the path holds the reference still
    (matrix,) = overview.alignments
    t0 = cut / 44100
    during = (matrix.path[:, 0] > t0 + 0.3) & (matrix.path[:, 0] < t0 + 3.7)
    rows_s = matrix.path[during, 1] * overview.details["map"]["frames_per_row"] * 0.01
    assert np.ptp(rows_s) < 0.2


def test_unrelated_recordings_share_too_little_material(reference: tuple) -> None:
    ref, _ = reference
    q, _ = sentence(OTHER, seed=3)
    result = compare(clip(q), clip(ref))
    first = result.findings[0]
    assert first.label == "Too little shared material to compare" and first.fake_likelihood is None
    assert first.details["coverage"] < 0.3 and "no inserted, deleted or replaced" in first.details["explanation"]
    assert not [f for f in result.findings if f.label in DEPARTURES]
    assert by_label(result, "Alignment with reference")[0].details["enough_shared"] is False


def test_an_inserted_and_a_deleted_span_are_found_with_times_in_both_recordings(reference: tuple) -> None:
    ref, ref_spans = reference
    edited = WORDS[:4] + ["strange"] + WORDS[4:10] + WORDS[11:]  # "strange" inserted, "narrow" deleted
    q, q_spans = sentence(edited, seed=4)
    result = compare(clip(q), clip(ref), speaker=False)
    assert sorted(f.label for f in result.findings if f.label in DEPARTURES) == ["Deleted span", "Inserted span"]
    (ins,) = by_label(result, "Inserted span")
    assert abs(ins.start_s - q_spans[4][0]) <= 0.1 and abs(ins.end_s - q_spans[4][1]) <= 0.1
    assert ins.details["reference_start_s"] == ins.details["reference_end_s"]
    assert ref_spans[3][1] - 0.1 <= ins.details["reference_start_s"] <= ref_spans[4][0] + 0.1
    (dele,) = by_label(result, "Deleted span")
    assert dele.start_s == dele.end_s
    assert q_spans[10][1] - 0.1 <= dele.start_s <= q_spans[11][0] + 0.1  # between "the" and "bridge"
    assert abs(dele.details["reference_start_s"] - ref_spans[10][0]) <= 0.1
    assert abs(dele.details["reference_end_s"] - ref_spans[10][1]) <= 0.1


@pytest.mark.skipif(not HAVE_RESEMBLYZER, reason="Resemblyzer (GE2E weights) is not installed")
def test_a_voice_that_changes_mid_recording_shows_in_the_speaker_lane(reference: tuple) -> None:
    ref, _ = reference
    voices = ["en-us"] * 7 + ["en-us+f3"] * 7
    q, q_spans = sentence(WORDS, seed=5, voices=voices)
    result = compare(clip(q), clip(ref))
    lane = next(s for s in by_label(result, "Alignment with reference")[0].series if s.name == "speaker-similarity")
    assert lane.unit == "cosine"
    switch = 0.5 * (q_spans[6][1] + q_spans[7][0])
    before, after = lane.values[lane.times_s < switch - 1.0], lane.values[lane.times_s > switch + 1.0]
    assert before.size and after.size and before.min() > after.max()
    (change,) = by_label(result, "Speaker differs from reference")
    assert abs(change.start_s - switch) < 1.2 and change.end_s > q_spans[-1][1] - 1.0


@pytest.mark.skipif(not (CORPUS.is_dir() and HAVE_RESEMBLYZER),
                    reason=f"needs the shared corpus at {CORPUS} and Resemblyzer (GE2E weights)")
def test_on_validation_speakers_the_second_speaker_is_found() -> None:
    from forensics_app.training.corpus import list_corpus, split_speakers

    validation = split_speakers(list_corpus(CORPUS)).validation
    long_enough = {}
    for u in validation:  # each speaker's first utterance of 12 s or more
        if u.speaker not in long_enough and sf.info(str(u.path)).duration >= 12.0:
            long_enough[u.speaker] = u
    a, b = (read_mono(long_enough[s].path) for s in sorted(long_enough)[:2])
    half = 6 * RATE
    q = np.concatenate([a[:half], b[:half]])  # reference speaker, then another one saying other things
    result = compare(clip(q), clip(a))
    overview = by_label(result, "Alignment with reference")[0]
    lane = next(s for s in overview.series if s.name == "speaker-similarity")
    before, after = lane.values[lane.times_s < 5.0], lane.values[lane.times_s > 7.0]
    assert np.median(before) > overview.details["speaker"]["threshold"] > np.median(after)
    changes = by_label(result, "Speaker differs from reference")
    assert changes and any(abs(c.start_s - 6.0) < 1.5 and c.end_s > 10.0 for c in changes)
    departures = [f for f in result.findings if f.label in DEPARTURES]
    assert any(abs(f.start_s - 6.0) < 1.0 and f.end_s > 10.0 for f in departures), "the second half is other material"


def test_cancel_mid_run_raises_cancelled(reference: tuple) -> None:
    ref, _ = reference
    seen: list[float] = []

    def on_report(fraction: float, message: str) -> None:
        seen.append(fraction)
        if fraction >= 0.1:
            token.cancel()

    token = ProgressToken(on_report)
    with pytest.raises(Cancelled):
        compare(clip(ref[::-1].copy()), clip(ref), progress=token)
    assert seen and max(seen) < 0.6


def test_the_stored_map_is_bounded_for_long_recordings() -> None:
    ref = np.concatenate([sentence(WORDS[k:] + WORDS[:k], seed=k)[0] for k in range(8)])
    q = np.concatenate([ref[: 30 * RATE], ref[31 * RATE:]])  # one second cut out at 30 s
    result = compare(clip(q), clip(ref), speaker=False)
    overview = by_label(result, "Alignment with reference")[0]
    (matrix,) = overview.alignments
    assert matrix.name == "reference-alignment" and matrix.unit == "cosine similarity"
    assert matrix.row_axis == "reference recording (s)"
    assert matrix.values.shape[0] <= 600 and matrix.values.shape[1] <= 600 and ref.size / RATE > 60
    assert np.all(np.diff(matrix.path[:, 0]) >= 0)
    assert matrix.path[:, 1].min() >= -0.5 and matrix.path[:, 1].max() <= matrix.values.shape[0] - 0.5
    deleted = by_label(result, "Deleted span")
    assert deleted and abs(deleted[0].start_s - 30.0) < 0.3
