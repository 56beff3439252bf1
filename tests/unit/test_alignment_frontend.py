"""The alignment front end: any rate, channels and level to one comparable description."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.alignment import frontend
from forensics_app.domain.errors import AnalyzerError
from forensics_app.training.audio_io import resample

RATE = 16000


def bursts(rate: int, *, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Harmonic bursts with changing pitch and formant-like tilt, separated by pauses of low noise.

    Returns the signal (mono, ``rate`` Hz) and the (start, end) of each burst in seconds.
    """
    rng = np.random.default_rng(seed)
    spans, parts, t = [], [], 0.0
    for k in range(6):
        pause = rng.uniform(0.2, 0.5)
        parts.append(1e-4 * rng.standard_normal(int(pause * rate)))
        t += pause
        dur = rng.uniform(0.3, 0.6)
        tt = np.arange(int(dur * rate)) / rate
        f0 = 110 + 40 * k + 30 * tt / dur
        phase = 2 * np.pi * np.cumsum(f0) / rate
        x = sum(np.sin(h * phase) / h ** (1 + 0.2 * k) for h in range(1, 30) if h * f0.max() < rate / 2)
        parts.append(0.3 * x * np.hanning(tt.size))
        spans.append((t, t + dur))
        t += dur
    parts.append(1e-4 * rng.standard_normal(int(0.3 * rate)))
    return np.concatenate(parts).astype(np.float32), spans


def test_speech_activity_follows_bursts_and_pauses() -> None:
    x, spans = bursts(RATE)
    prepared, feats = frontend.analyse(x, rate=RATE)
    assert feats.times_s[1] - feats.times_s[0] == pytest.approx(frontend.HOP_S)
    for a, b in spans:
        inside = (feats.times_s > a + 0.1) & (feats.times_s < b - 0.1)
        assert feats.active[inside].all()
    gaps = [(b, c) for (_, b), (c, _) in zip(spans[:-1], spans[1:], strict=True) if c - b > 0.3]
    assert gaps, "the fixture has pauses longer than 0.3 s"
    for b, c in gaps:
        middle = (feats.times_s > b + 0.1) & (feats.times_s < c - 0.1)
        assert not feats.active[middle].any()
    assert np.allclose(np.linalg.norm(feats.vectors, axis=1), 1.0, atol=1e-4)


def test_rate_channels_and_level_do_not_change_the_description() -> None:
    x, _ = bursts(RATE, seed=3)
    p0, f0 = frontend.analyse(x, rate=RATE)
    hi = resample(x, src_rate=RATE, dst_rate=44100) * np.float32(10 ** (-12 / 20))
    stereo = np.stack([hi, 0.5 * hi], axis=1)
    p1, f1 = frontend.analyse(stereo, rate=44100)
    assert (p1.source_rate, p1.source_channels) == (44100, 2)
    assert p1.gain_db - p0.gain_db == pytest.approx(12.0 - 20 * np.log10(0.75), abs=0.5)
    n = min(f0.n_frames, f1.n_frames)
    assert np.mean(f0.active[:n] == f1.active[:n]) > 0.98
    both = f0.active[:n] & f1.active[:n]
    cos = np.sum(f0.vectors[:n][both] * f1.vectors[:n][both], axis=1)
    assert np.median(cos) > 0.98
    assert np.median(np.abs(f0.log_mel_db[:n][both] - f1.log_mel_db[:n][both])) < 1.0


def test_unusable_recordings_are_refused_with_a_reason() -> None:
    with pytest.raises(AnalyzerError, match="silent"):
        frontend.prepare(np.zeros(RATE, np.float32), rate=RATE)
    with pytest.raises(AnalyzerError, match="too short"):
        frontend.prepare(np.full(100, 0.1, np.float32), rate=RATE)
    with pytest.raises(AnalyzerError, match="at most 30 min"):
        frontend.prepare(np.zeros(int((frontend.MAX_DURATION_S + 1) * 1000), np.float32), rate=1000)
    bad = np.full(RATE, 0.1, np.float32)
    bad[5] = np.nan
    with pytest.raises(AnalyzerError, match="NaN"):
        frontend.prepare(bad, rate=RATE)
