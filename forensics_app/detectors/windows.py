"""Windowed scoring of a recording by a speech detector: the one routine shared by training
validation, the ``eval`` command and the analyzer.

A detector net takes fixed-length windows of a 16 kHz waveform ``(B, T)`` and returns logits
``(B, 2)`` with column 0 = spoof and column 1 = bona fide; the *raw* score of a window is
``logits[:, 0] - logits[:, 1]`` (natural-log odds, higher = more likely synthetic).

Windows of ``window_s`` start every ``hop_s`` from 0; when the last regular window does not reach
the end of the recording, one more window is placed flush with the end, so every sample is
scored. A recording shorter than one window is scored as a single window zero-padded at its end
(:attr:`WindowScores.padded` says so: the net saw silence for the rest of the window).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from forensics_app.detectors.errors import NoScorableWindows
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress


@dataclass(frozen=True)
class WindowScores:
    """Raw detector scores of the windows of one recording.

    Attributes
    ----------
    starts_s, ends_s : numpy.ndarray
        (n,) float64, the start and end of each window in seconds from the start of the
        recording. A padded window ends at the end of the recording, not of the window.
    raw : numpy.ndarray
        (n,) float64, ``logit_spoof - logit_bonafide`` of each window; NaN for a window the
        detector's front end could not score (a residual detector's window with too little
        active speech; waveform detectors score every window).
    padded : bool
        True when the recording was shorter than one window and was zero-padded.
    """

    starts_s: np.ndarray
    ends_s: np.ndarray
    raw: np.ndarray
    padded: bool

    @property
    def centres_s(self) -> np.ndarray:
        """(n,) float64 window centres in seconds (for drawing a lane)."""
        return (self.starts_s + self.ends_s) / 2.0


def window_samples(*, rate: int, window_s: float, hop_s: float) -> tuple[int, int]:
    """Window and hop lengths in samples.

    Raises
    ------
    AnalyzerError
        A non-positive rate, window or hop, or a hop longer than the window (gaps).
    """
    if rate <= 0:
        raise AnalyzerError(f"sample rate must be positive, got {rate}")
    win = int(round(window_s * rate))
    hop = int(round(hop_s * rate))
    if win < 1 or hop < 1:
        raise AnalyzerError(f"window ({window_s} s) and hop ({hop_s} s) must be at least one "
                            "sample")
    if hop > win:
        raise AnalyzerError(f"hop ({hop_s} s) longer than the window ({window_s} s) would leave "
                            "gaps")
    return win, hop


def window_starts(n_samples: int, *, rate: int, window_s: float, hop_s: float) -> np.ndarray:
    """Start sample of every window covering a recording.

    Parameters
    ----------
    n_samples : int
        Length of the recording in samples (at least 1).
    rate : int
        Sample rate in Hz.
    window_s, hop_s : float
        Window length and hop in seconds (``0 < hop_s <= window_s``).

    Returns
    -------
    numpy.ndarray
        (n,) int64 start samples: ``0, hop, 2*hop, ...`` and, when these stop short of the end,
        ``n_samples - window`` (flush with the end). ``[0]`` when the recording is shorter than a
        window (see :func:`is_padded`).

    Raises
    ------
    AnalyzerError
        An empty recording or bad window parameters.
    """
    win, hop = window_samples(rate=rate, window_s=window_s, hop_s=hop_s)
    if n_samples < 1:
        raise AnalyzerError("cannot score an empty recording (0 samples)")
    if n_samples <= win:
        return np.zeros(1, np.int64)
    starts = np.arange(0, n_samples - win + 1, hop, dtype=np.int64)
    if starts[-1] + win < n_samples:
        starts = np.append(starts, np.int64(n_samples - win))
    return starts


def is_padded(n_samples: int, *, rate: int, window_s: float) -> bool:
    """Whether a recording of ``n_samples`` is shorter than one window (scored zero-padded)."""
    return n_samples < int(round(window_s * rate))


def _batches(wave: np.ndarray, starts: np.ndarray, win: int, batch_size: int
             ) -> Iterator[np.ndarray]:
    """(b, win) float32 batches of windows, built one at a time (memory bounded)."""
    for i in range(0, len(starts), batch_size):
        chunk = starts[i:i + batch_size]
        out = np.zeros((len(chunk), win), np.float32)
        for j, s in enumerate(chunk):
            piece = wave[s:s + win]
            out[j, :len(piece)] = piece
        yield out


def raw_scores(logits: torch.Tensor) -> torch.Tensor:
    """``logits[:, 0] - logits[:, 1]`` (spoof minus bona fide), shape (B,)."""
    if logits.dim() != 2 or logits.shape[1] != 2:
        raise AnalyzerError(f"a detector must return (batch, 2) logits, got {tuple(logits.shape)}")
    return logits[:, 0] - logits[:, 1]


def score_windows(
    net: nn.Module,
    wave: np.ndarray,
    *,
    rate: int,
    window_s: float,
    hop_s: float,
    batch_size: int = 32,
    device: str = "cpu",
    progress: Progress | None = None,
) -> WindowScores:
    """Score every window of a mono recording with a detector net.

    Parameters
    ----------
    net : torch.nn.Module
        A detector: ``(B, T) float32 -> (B, 2)`` logits [spoof, bona fide]. It is put in eval
        mode and moved to ``device`` (both in place).
    wave : numpy.ndarray
        (T,) mono samples in [-1, 1] at ``rate`` Hz (the rate the net was trained at).
    rate : int
        Sample rate in Hz.
    window_s, hop_s : float
        Window length and hop in seconds.
    batch_size : int
        Windows per forward pass; only one batch of windows exists at a time.
    device : str
        torch device for the forward passes ("cpu" or "cuda").
    progress : Progress, optional
        Reported after each batch; :meth:`check` between batches raises ``Cancelled``.

    Returns
    -------
    WindowScores
        Window times in seconds and raw scores (float64).

    Raises
    ------
    AnalyzerError
        A non-mono or empty recording, bad window parameters, or a net of the wrong shape.
    Cancelled
        When ``progress`` is cancelled.
    """
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise AnalyzerError(f"score_windows expects a mono (samples,) waveform, got shape "
                            f"{wave.shape}")
    if batch_size < 1:
        raise AnalyzerError(f"batch_size must be at least 1, got {batch_size}")
    win, _ = window_samples(rate=rate, window_s=window_s, hop_s=hop_s)
    starts = window_starts(len(wave), rate=rate, window_s=window_s, hop_s=hop_s)
    net.eval()
    net.to(device)
    raw = np.empty(len(starts), np.float64)
    n_batches = -(-len(starts) // batch_size)
    with torch.inference_mode():
        for k, batch in enumerate(_batches(wave, starts, win, batch_size)):
            if progress is not None:
                progress.check()
            logits = net(torch.from_numpy(batch).to(device))
            lo = k * batch_size
            raw[lo:lo + len(batch)] = raw_scores(logits).double().cpu().numpy()
            if progress is not None:
                progress.report((k + 1) / n_batches, f"scored {min(lo + len(batch), len(starts))} "
                                f"of {len(starts)} windows")
    starts_s = starts.astype(np.float64) / rate
    ends_s = np.minimum(starts + win, len(wave)).astype(np.float64) / rate
    return WindowScores(starts_s=starts_s, ends_s=ends_s, raw=raw,
                        padded=is_padded(len(wave), rate=rate, window_s=window_s))


def file_score(ws: WindowScores) -> float:
    """The raw score of a whole recording: the mean of its scored (finite) window raw scores.

    The mean of the log-odds treats the windows as repeated looks at one source, which suits a
    recording that is entirely bona fide or entirely synthetic (what the detectors are trained
    and calibrated on). A short synthetic insert in a long bona fide recording is diluted by
    the mean; the per-window scores show where it lies.

    Raises
    ------
    AnalyzerError
        No window.
    NoScorableWindows
        No window with a score (NaN everywhere: too little active speech).
    """
    if len(ws.raw) == 0:
        raise AnalyzerError("no windows to summarise")
    scored = np.isfinite(ws.raw)
    if not scored.any():
        raise NoScorableWindows(f"none of the {len(ws.raw)} window(s) could be scored: too little active speech")
    return float(np.mean(ws.raw[scored]))


def speech_windows(wave: np.ndarray, *, rate: int, starts_s: np.ndarray, ends_s: np.ndarray,
                   floor_dbfs: float) -> np.ndarray:
    """Which windows hold speech-level energy: detectors trained on speech say nothing reliable about silence.

    Parameters
    ----------
    wave : numpy.ndarray
        (T,) mono samples in [-1, 1] at ``rate`` Hz.
    rate : int
        Sample rate in Hz.
    starts_s, ends_s : numpy.ndarray
        (n,) window starts and ends in seconds.
    floor_dbfs : float
        Windows whose RMS is below this (dBFS) are not speech.

    Returns
    -------
    numpy.ndarray
        (n,) bool: RMS at least ``floor_dbfs`` and at most 40 dB below the 95th percentile of the
        windows' RMS levels (the recording's loud level).
    """
    rms = np.empty(len(starts_s))
    for i, (a, b) in enumerate(zip(starts_s, ends_s, strict=True)):
        seg = wave[int(a * rate):max(int(b * rate), int(a * rate) + 1)]
        rms[i] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
    db = 20 * np.log10(np.maximum(rms, 1e-12))
    loud = np.percentile(db, 95) if db.size else 0.0
    return (db >= floor_dbfs) & (db >= loud - 40.0)
