"""Generated recordings and real alignments for the comparison GUI tests (no Qt here).

A *melody* is a sequence of harmonic notes of distinct pitches, so each moment of it is unlike the
others and a spectral alignment is unambiguous. The questioned copy has a noise burst inserted
into it at a known time. :func:`align_recordings` aligns two recordings with dynamic time warping
on log-spectral frames and reports the inserted spans it finds; :func:`word_alignment` aligns a
"transcript" of tone bursts (one pitch per word) with a recording of them. Both return real
:class:`~forensics_app.domain.results.AlignmentMatrix` objects computed from the audio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from forensics_app.domain.results import AlignmentMatrix, Finding, TimeFreqMap, TimeSeries
from forensics_app.dsp.stft import STFTSettings, power_to_db, stft_power

RATE = 16_000
NOTE_S = 0.25
NOTES_HZ = (220.0, 330.0, 262.0, 392.0, 294.0, 440.0, 349.0, 494.0, 247.0, 370.0, 311.0, 415.0)
INSERT_AT_S = 1.0
INSERT_S = 0.4
HOP_S = 0.02
WORDS = ("one", "two", "three", "four", "five")
WORD_HZ = (300.0, 500.0, 800.0, 1200.0, 1800.0)
WORD_SPANS_S = ((0.30, 0.60), (0.75, 1.00), (1.20, 1.65), (1.80, 2.05), (2.30, 2.70))
WORDS_S = 3.0


def melody(*, seed: int = 0) -> np.ndarray:
    """:data:`NOTES_HZ` as harmonic notes of :data:`NOTE_S` each with a little noise, float32 at :data:`RATE`."""
    n = int(NOTE_S * RATE)
    t = np.arange(n) / RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    notes = [ramp * sum(0.25 / k * np.sin(2 * np.pi * f * k * t) for k in range(1, 5)) for f in NOTES_HZ]
    x = np.concatenate(notes)
    return (x + 0.003 * np.random.default_rng(seed).standard_normal(x.size)).astype(np.float32)


def with_insertion(x: np.ndarray, *, at_s: float = INSERT_AT_S, length_s: float = INSERT_S) -> np.ndarray:
    """``x`` with a band-limited noise burst of ``length_s`` inserted at ``at_s``."""
    rng = np.random.default_rng(7)
    burst = np.convolve(rng.standard_normal(int(length_s * RATE)), np.ones(4) / 4, mode="same") * 0.2
    cut = int(at_s * RATE)
    return np.concatenate([x[:cut], burst.astype(np.float32), x[cut:]]).astype(np.float32)


def write_png(path: Path) -> Path:
    """A small colour gradient (an evidence item that is not audio)."""
    from PIL import Image

    rgb = np.zeros((32, 48, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, 48, dtype=np.uint8)[None, :]
    Image.fromarray(rgb).save(path)
    return path


def write(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    """PCM 16 WAV."""
    sf.write(str(path), np.asarray(x, dtype=np.float32), rate, subtype="PCM_16")
    return path


def log_frames(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-power spectral frames every :data:`HOP_S`.

    Returns
    -------
    frames : np.ndarray
        Shape (n, bins), dB (floor -100).
    times : np.ndarray
        Shape (n,), frame centres in s.
    freqs : np.ndarray
        Shape (bins,), bin centres in Hz.
    """
    hop = int(HOP_S * rate)
    settings = STFTSettings(win_length=2 * hop, n_fft=max(512, 2 * hop), hop=hop)
    power = stft_power(np.asarray(x, dtype=np.float32), rate=rate, settings=settings)
    frames = np.asarray(power_to_db(power, floor_db=-100.0), dtype=np.float64).T
    times = settings.frame_time_s(np.arange(frames.shape[0]), rate)
    return frames, np.asarray(times, dtype=np.float64), settings.freqs_hz(rate)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of mean-removed rows: shape (len(b), len(a)) (rows b, columns a)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-9
    b /= np.linalg.norm(b, axis=1, keepdims=True) + 1e-9
    return (b @ a.T).astype(np.float32)


def dtw_path(similarity: np.ndarray) -> np.ndarray:
    """Cheapest monotone path through ``1 - similarity`` (rows r, columns t): (k, 2) of (t, r) indices."""
    cost = 1.0 - similarity.astype(np.float64)
    n_r, n_t = cost.shape
    acc = np.full((n_r + 1, n_t + 1), np.inf)
    acc[0, 0] = 0.0
    for r in range(1, n_r + 1):
        row = cost[r - 1]
        for t in range(1, n_t + 1):
            acc[r, t] = row[t - 1] + min(acc[r - 1, t - 1], acc[r - 1, t], acc[r, t - 1])
    r, t, out = n_r, n_t, []
    while r > 0 and t > 0:
        out.append((t - 1, r - 1))
        step = int(np.argmin([acc[r - 1, t - 1], acc[r - 1, t], acc[r, t - 1]]))
        r, t = (r - 1, t - 1) if step == 0 else (r - 1, t) if step == 1 else (r, t - 1)
    return np.array(out[::-1], dtype=np.float64)


def align_recordings(questioned: np.ndarray, q_rate: int, reference: np.ndarray, r_rate: int,
                     *, min_insert_s: float = 0.2) -> tuple[Finding, ...]:
    """The overview finding (matrix "reference-alignment", lane "reference-spectral-difference") and
    one "Inserted span" finding per stretch where the path holds the reference still."""
    q_frames, q_times, _ = log_frames(questioned, q_rate)
    r_frames, r_times, _ = log_frames(reference, r_rate)
    sim = cosine(q_frames, r_frames)
    idx = dtw_path(sim)
    path = np.column_stack([q_times[idx[:, 0].astype(int)], idx[:, 1]])
    matrix = AlignmentMatrix(name="reference-alignment", unit="cosine similarity", times_s=q_times,
                             row_times_s=r_times, values=sim, path=path, row_axis="reference recording (s)")
    diff = np.abs(q_frames[idx[:, 0].astype(int)] - r_frames[idx[:, 1].astype(int)]).mean(axis=1)
    lane = TimeSeries("reference-spectral-difference", "dB", path[:, 0], diff)
    departures = []
    rows = idx[:, 1]
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i] != rows[start]:
            t0, t1 = float(path[start, 0]), float(path[i - 1, 0])
            if t1 - t0 >= min_insert_s:
                ref_t = float(r_times[int(rows[start])])
                departures.append(Finding("Inserted span", fake_likelihood=0.9, start_s=t0, end_s=t1,
                                          details={"kind": "inserted", "reference_start_s": ref_t,
                                                   "reference_end_s": ref_t}))
            start = i
    overview = Finding("Alignment with reference", None, start_s=float(q_times[0]), end_s=float(q_times[-1]),
                       details={"shared_s": float(r_times[-1])}, series=(lane,), alignments=(matrix,))
    return (overview, *departures)


def word_recording() -> np.ndarray:
    """Tone bursts, one pitch per word of :data:`WORDS`, at :data:`WORD_SPANS_S`, in :data:`WORDS_S` s."""
    x = 0.002 * np.random.default_rng(3).standard_normal(int(WORDS_S * RATE))
    for hz, (a, b) in zip(WORD_HZ, WORD_SPANS_S, strict=True):
        i0, i1 = int(a * RATE), int(b * RATE)
        t = np.arange(i1 - i0) / RATE
        ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        x[i0:i1] += 0.4 * ramp * np.sin(2 * np.pi * hz * t)
    return x.astype(np.float32)


def word_alignment(x: np.ndarray, rate: int) -> Finding:
    """Attention of each word (row) over time: its pitch's share of the energy of the word pitches;
    each word's span is where its share is above one half (measured, not copied)."""
    frames, times, freqs = log_frames(x, rate)
    power = 10 ** (frames / 10)
    bands = np.stack([power[:, np.argmin(np.abs(freqs - hz))] for hz in WORD_HZ])  # (n_words, n_t)
    total = bands.sum(axis=0, keepdims=True) + power.mean(axis=1)[None, :] * 4
    attention = (bands / total).astype(np.float32)
    spans = []
    for row in attention:  # the longest run of frames where the word dominates
        on = np.concatenate([[0], (row > 0.5).astype(np.int8), [0]])
        starts, ends = np.nonzero(np.diff(on) == 1)[0], np.nonzero(np.diff(on) == -1)[0]
        k = int(np.argmax(ends - starts))
        spans.append((float(times[starts[k]] - HOP_S / 2), float(times[ends[k] - 1] + HOP_S / 2)))
    strong = attention.max(axis=0) > 0.5
    rows = np.maximum.accumulate(np.argmax(attention[:, strong], axis=0))  # a path never goes back
    path = np.column_stack([times[strong], rows]).astype(np.float64)
    matrix = AlignmentMatrix(name="transcript-attention", unit="attention", times_s=times,
                             row_times_s=np.arange(len(WORDS), dtype=np.float64) * 0.4, values=attention,
                             path=path, row_labels=WORDS, row_spans_s=np.array(spans), row_axis="transcript word")
    words = [{"word": w, "start_s": a, "end_s": b} for w, (a, b) in zip(WORDS, spans, strict=True)]
    return Finding("Transcript alignment", None, details={"words": words}, alignments=(matrix,))


def residual_findings(x: np.ndarray, rate: int, *, widths: tuple[int, ...] = (3,)) -> tuple[Finding, ...]:
    """Self-resynthesis-like findings, one per crude "vocoder" (a spectral smoothing over ``width``
    bins): the level change (dB) per band and frame as map ``"resynthesis-residual-smooth<width>"``
    and its log-spectral distance as a lane; then a verdict with a FakeLikelihood lane (stored last)."""
    frames, times, freqs = log_frames(x, rate)
    out = []
    lsd = np.zeros(times.size)
    for width in widths:
        smooth = np.apply_along_axis(lambda r, w=width: np.convolve(r, np.ones(w) / w, mode="same"), 1, frames)
        residual = (smooth - frames).T.astype(np.float32)  # (n_f, n_t), signed dB
        lsd = np.sqrt(np.mean(residual.astype(np.float64) ** 2, axis=0))
        name = f"smooth{width}"
        tf_map = TimeFreqMap(name=f"resynthesis-residual-{name}", unit="dB", times_s=times, freqs_hz=freqs,
                             values=residual)
        out.append(Finding(f"Self-resynthesis residual ({name})", None,
                           details={"lsd_median_db": float(np.median(lsd))}, maps=(tf_map,),
                           series=(TimeSeries(f"resynthesis-lsd-{name}", "dB", times, lsd),)))
    out.append(Finding("Residual detector verdict", 0.3,
                       series=(TimeSeries("residual-detector", "FakeLikelihood", times,
                                          np.clip(lsd / (lsd.max() + 1e-9), 0, 1)),)))
    return tuple(out)
