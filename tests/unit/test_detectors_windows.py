"""detectors.windows: the window schedule covers a recording exactly, batched scoring equals
scoring each window alone, short input is padded, cancellation stops between batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forensics_app.demo.wav_io import write_wav
from forensics_app.detectors.windows import (
    WindowScores,
    file_score,
    is_padded,
    score_windows,
    window_starts,
)
from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.nets.registry import build
from forensics_app.training.audio_io import read_mono

RATE = 16000


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build("lfcc_lcnn", {"width": 0.25, "hidden": 8}).eval()


@pytest.fixture(scope="module")
def speechlike(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """3.3 s of harmonic tones and noise, written as 16-bit WAV and decoded back."""
    rng = np.random.default_rng(1)
    t = np.arange(int(3.3 * RATE)) / RATE
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 12)) * 0.1
    wave = wave + 0.01 * rng.standard_normal(len(t))
    path = write_wav(tmp_path_factory.mktemp("win") / "tone.wav", wave, RATE)
    return read_mono(path)


@pytest.mark.parametrize("n, window_s, hop_s", [
    (RATE * 3, 1.0, 0.5),        # hop divides evenly: no extra window
    (RATE * 3 + 1234, 1.0, 0.5),  # last window placed flush with the end
    (RATE * 2, 2.0, 0.5),        # exactly one window
    (RATE * 5 + 7, 1.5, 1.5),    # no overlap
])
def test_windows_cover_the_recording_exactly(n: int, window_s: float, hop_s: float) -> None:
    starts = window_starts(n, rate=RATE, window_s=window_s, hop_s=hop_s)
    win, hop = int(window_s * RATE), int(hop_s * RATE)
    assert starts[0] == 0
    assert starts[-1] + win == n
    steps = np.diff(starts)
    assert np.all(steps[:-1] == hop)
    assert np.all((steps > 0) & (steps <= hop))
    covered = np.zeros(n, bool)
    for s in starts:
        covered[s:s + win] = True
    assert covered.all()
    assert not is_padded(n, rate=RATE, window_s=window_s)


def test_regular_schedule_counts() -> None:
    assert window_starts(RATE * 3, rate=RATE, window_s=1.0, hop_s=0.5).tolist() == [
        0, 8000, 16000, 24000, 32000]
    assert window_starts(RATE * 3 + 100, rate=RATE, window_s=1.0, hop_s=0.5)[-1] == RATE * 2 + 100


def test_short_recording_is_one_padded_window(net: torch.nn.Module, speechlike: np.ndarray) -> None:
    short = speechlike[:5000]
    assert window_starts(len(short), rate=RATE, window_s=1.0, hop_s=0.5).tolist() == [0]
    assert is_padded(len(short), rate=RATE, window_s=1.0)
    ws = score_windows(net, short, rate=RATE, window_s=1.0, hop_s=0.5)
    assert ws.padded and len(ws.raw) == 1
    assert ws.starts_s[0] == 0.0 and ws.ends_s[0] == pytest.approx(5000 / RATE)
    padded = np.zeros(RATE, np.float32)
    padded[:5000] = short
    with torch.inference_mode():
        logits = net(torch.from_numpy(padded)[None])
    assert ws.raw[0] == pytest.approx(float(logits[0, 0] - logits[0, 1]), abs=1e-5)


def test_batched_scores_equal_window_by_window(net: torch.nn.Module,
                                               speechlike: np.ndarray) -> None:
    ws = score_windows(net, speechlike, rate=RATE, window_s=1.0, hop_s=0.4, batch_size=3)
    assert isinstance(ws, WindowScores) and not ws.padded
    assert ws.raw.dtype == np.float64 and len(ws.raw) == len(ws.starts_s) == len(ws.ends_s)
    assert ws.starts_s[0] == 0.0 and ws.ends_s[-1] == pytest.approx(len(speechlike) / RATE)
    assert np.allclose(ws.ends_s - ws.starts_s, 1.0)
    singles = []
    with torch.inference_mode():
        for s in ws.starts_s:
            a = int(round(s * RATE))
            logits = net(torch.from_numpy(speechlike[a:a + RATE].copy())[None])
            singles.append(float(logits[0, 0] - logits[0, 1]))
    assert np.allclose(ws.raw, singles, atol=1e-4)
    assert file_score(ws) == pytest.approx(float(np.mean(singles)), abs=1e-4)
    other = score_windows(net, speechlike, rate=RATE, window_s=1.0, hop_s=0.4, batch_size=32)
    assert np.allclose(other.raw, ws.raw, atol=1e-4)


def test_progress_and_cancel(net: torch.nn.Module, speechlike: np.ndarray) -> None:
    seen: list[float] = []
    token = ProgressToken(lambda f, _m: seen.append(f))
    score_windows(net, speechlike, rate=RATE, window_s=1.0, hop_s=0.25, batch_size=2,
                  progress=token)
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)

    calls: list[float] = []
    token = ProgressToken(lambda f, _m: (calls.append(f), token.cancel()))
    with pytest.raises(Cancelled):
        score_windows(net, speechlike, rate=RATE, window_s=1.0, hop_s=0.25, batch_size=2,
                      progress=token)
    assert len(calls) == 1  # stopped before the second batch


def test_bad_input_is_refused(net: torch.nn.Module) -> None:
    with pytest.raises(AnalyzerError, match="empty"):
        window_starts(0, rate=RATE, window_s=1.0, hop_s=0.5)
    with pytest.raises(AnalyzerError, match="gaps"):
        window_starts(RATE, rate=RATE, window_s=1.0, hop_s=2.0)
    with pytest.raises(AnalyzerError, match="mono"):
        score_windows(net, np.zeros((RATE, 2), np.float32), rate=RATE, window_s=1.0, hop_s=0.5)
