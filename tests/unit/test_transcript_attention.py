"""The word x time attention matrix: a clean diagonal for a faithful reading, bounded in size."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from forensics_app.training.audio_io import resample
from forensics_app.transcript import attention
from forensics_app.transcript.align import align
from forensics_app.transcript.render import render
from forensics_app.transcript.text import parse_transcript

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

TEXT = "Seven bright horses crossed the quiet garden slowly while eleven children waited beside the mountains."


def _reading(voice: str, lead_s: float) -> tuple[np.ndarray, int]:
    r = render(parse_transcript(TEXT), voice=voice, speed_wpm=150, pitch=70)
    x = np.concatenate([np.zeros(int(lead_s * r.rate), np.float32), r.samples, np.zeros(r.rate // 2, np.float32)])
    return resample(x, src_rate=r.rate, dst_rate=48000), 48000


def test_faithful_reading_gives_a_clean_diagonal() -> None:
    x, rate = _reading("en+klatt", 1.0)
    al = align(x, rate, render(parse_transcript(TEXT)))
    m = attention.attention_matrix(al)
    n = len(al.words)
    assert m.name == "transcript-attention" and m.unit == "attention" and m.row_axis == "transcript word"
    assert m.row_labels == al.words and m.values.shape == (n, m.times_s.size)
    np.testing.assert_allclose(m.values.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(m.row_spans_s, al.spans_s)
    peaks = m.times_s[np.argmax(m.values, axis=1)]
    assert np.all(np.diff(peaks) > 0), "each word's attention peaks after the previous word's"
    inside = [(m.values[w, (m.times_s >= a - 0.02) & (m.times_s <= b + 0.02)]).sum() for w, (a, b) in
              enumerate(al.spans_s)]
    assert min(inside) > 0.9, "each word's attention lies within its aligned span"
    assert m.times_s[np.argmax(m.values[0])] > 0.95, "the leading second of silence holds no word"
    t, row = m.path[:, 0], m.path[:, 1]
    assert np.all(np.diff(t) > 0) and np.all(np.diff(row) >= -1e-9) and row.max() <= n - 0.5


def test_matrix_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention, "MAX_COLUMNS", 50)
    monkeypatch.setattr(attention, "MAX_PATH_POINTS", 120)
    x, rate = _reading("en-us+m3", 0.3)
    al = align(x, rate, render(parse_transcript(TEXT)))
    m = attention.attention_matrix(al)
    assert m.values.shape[1] <= 50 and m.path.shape[0] <= 120
    np.testing.assert_allclose(m.values.sum(axis=1), 1.0, atol=1e-4)
    assert m.times_s[-1] <= al.questioned.n_frames * al.hop_s
