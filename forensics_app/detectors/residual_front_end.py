"""The ``"resynthesis-residuals"`` front end: residual detectors score self-resynthesis statistics.

A residual detector (architecture ``residual_mlp``) does not see the waveform. The recording is
pushed through the net's round trips once (:func:`forensics_app.resynthesis.features.residual_tracks`:
any rate and channel count, chunked, level-normalised), the residual statistics of each window of
the catalogue entry's ``input_length_s`` are computed every ``hop_s``
(:func:`~forensics_app.resynthesis.features.features_from_tracks`), and the net maps each window's
vector to a raw score. Windows with too little active speech (fewer than
:data:`forensics_app.resynthesis.features.MIN_ACTIVE_FRAMES` non-silent frames) have no statistics:
their raw score is NaN, and callers leave them out (:func:`forensics_app.detectors.windows.file_score`,
the analyzer's lanes show gaps there).

:func:`scores_from_features` is the one scoring routine shared by the analyzer, training,
calibration and validation (the latter on cached window vectors), so all of them score alike.
The explanation of a window is its residual map: the per-band log-spectral distance (dB) between
the window and its resynthesis, averaged over the net's round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from forensics_app.detectors.errors import NoScorableWindows
from forensics_app.detectors.front_ends import register_front_end
from forensics_app.detectors.windows import WindowScores
from forensics_app.domain.errors import AnalyzerError, Cancelled, ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.results import TimeFreqMap
from forensics_app.resynthesis import features as ft
from forensics_app.resynthesis import residuals as rs
from forensics_app.resynthesis import round_trips as rt

if TYPE_CHECKING:
    from forensics_app.detectors.detector import Detector

#: Name of this front end (the ``front_end`` attribute of the nets it serves).
NAME = "resynthesis-residuals"


def feature_columns(available: Sequence[str], wanted: Sequence[str]) -> np.ndarray:
    """Indices of the ``wanted`` feature names among ``available``, shape (len(wanted),).

    Raises
    ------
    AnalyzerError
        A wanted feature is not computed (the model needs round trips that did not run).
    """
    where = {n: i for i, n in enumerate(available)}
    missing = [n for n in wanted if n not in where]
    if missing:
        raise AnalyzerError(f"the residual detector needs feature(s) {missing[:3]} that were not computed "
                            f"(available: {len(available)} features)")
    return np.array([where[n] for n in wanted], dtype=np.int64)


def scores_from_features(net: torch.nn.Module, values: np.ndarray, names: Sequence[str], *,
                         device: str = "cpu") -> np.ndarray:
    """Raw scores of window feature vectors, NaN where a window has no statistics.

    Parameters
    ----------
    net : ResidualMlp
        A residual detector net (``feature_names``, ``score``).
    values : np.ndarray
        Shape (n_windows, len(names)), float: window vectors
        (:attr:`forensics_app.resynthesis.features.WindowFeatures.values`).
    names : sequence of str
        The column names of ``values``.
    device : str
        Torch device of ``net``.

    Returns
    -------
    np.ndarray
        Shape (n_windows,), float64 raw scores (``logit_spoof - logit_bonafide``); NaN for windows
        with any NaN input.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise AnalyzerError(f"expected ({len(x)}, {len(names)}) window features, got {x.shape}")
    x = x[:, feature_columns(names, net.feature_names)]
    ok = np.all(np.isfinite(x), axis=1)
    raw = np.full(x.shape[0], np.nan)
    if ok.any():
        net.eval()
        with torch.inference_mode():
            s = net.score(torch.from_numpy(x[ok].astype(np.float32)).to(device))
        raw[ok] = s.double().cpu().numpy()
    return raw


def scores_from_tracks(det: Detector, residual_set: ft.ResidualSet, *, hop_s: float) -> WindowScores:
    """Window scores of a residual detector from already computed residual tracks.

    Parameters
    ----------
    det : Detector
        A loaded residual detector.
    residual_set : ResidualSet
        Tracks of (at least) the net's round trips over the whole recording.
    hop_s : float
        Window hop (s); windows are ``det.window_s`` long.

    Returns
    -------
    WindowScores
        Windows from 0 every ``hop_s`` (s), ends clipped to the recording; raw NaN where a window
        has too little active speech.
    """
    ids = tuple(residual_set.tracks)
    wf = ft.features_from_tracks(residual_set, window_s=det.window_s, hop_s=hop_s)
    with det.net_lock:
        raw = scores_from_features(det.net, wf.values, ft.feature_names(ids), device=det.device)
    starts = np.asarray(wf.starts_s, dtype=np.float64)
    ends = np.minimum(starts + det.window_s, residual_set.duration_s)
    return WindowScores(starts_s=starts, ends_s=ends, raw=raw,
                        padded=bool(residual_set.duration_s < det.window_s))


def _tracks(det: Detector, wave: np.ndarray, rate: int, progress: Progress | None) -> ft.ResidualSet:
    """Residual tracks of the net's round trips.

    Raises
    ------
    NoScorableWindows
        The recording is too short for the round trips or has no signal above the resynthesis's
        silence level (:data:`forensics_app.resynthesis.features.MIN_LEVEL_DB` for its loud frames).
    AnalyzerError
        The resynthesis refused the audio for another reason (NaN samples, ...), naming the model.
    """
    x = np.asarray(wave, dtype=np.float32)
    source = ft.Source16k(x, rate=rate)
    if source.n < rt.MIN_DURATION_S * rt.RATE:
        raise NoScorableWindows(f"{det.entry.id}: {source.n / rt.RATE:.2f} s of audio is too short to resynthesise")
    if np.all(np.isfinite(x)):
        level_db, peak = ft.recording_level(source)
        if peak <= 0.0 or level_db < ft.MIN_LEVEL_DB:
            raise NoScorableWindows(f"{det.entry.id}: too little active speech to resynthesise (the loud frames are "
                                    f"at {level_db:.0f} dBFS)")
    try:
        return ft.residual_tracks(x, rate=rate, round_trip_ids=det.net.round_trips, device=det.device,
                                  progress=progress)
    except (AnalyzerError, Cancelled):
        raise
    except ForensicsError as exc:
        raise AnalyzerError(f"{det.entry.id}: {exc}") from exc


@register_front_end(NAME)
class ResidualFrontEnd:
    """Self-resynthesis statistics of each window, scored by a small MLP; residual maps as explanations."""

    def score(self, det: Detector, wave: np.ndarray, *, rate: int, hop_s: float,
              progress: Progress | None) -> WindowScores:
        """Raw scores of the windows of a mono recording (n,) at ``rate`` Hz (resampled to 16 kHz
        chunk by chunk); NaN for windows with too little active speech."""
        rset = _tracks(det, wave, rate, progress)
        return scores_from_tracks(det, rset, hop_s=hop_s)

    def explain(self, det: Detector, wave: np.ndarray, *, rate: int, start_s: float,
                name: str) -> tuple[TimeFreqMap, str]:
        """The window's residual map: per-band log-spectral distance (dB), mean over the round trips,
        over absolute time (s) and the bands' centre frequencies (Hz); 0 in silent frames."""
        a = max(int(round(start_s * rate)), 0)
        b = a + int(round(det.window_s * rate))
        rset = _tracks(det, np.asarray(wave[a:b]), rate, None)
        tracks = list(rset.tracks.values())
        frames = tracks[0].frames
        band = np.mean([t.frames.band_lsd_db for t in tracks], axis=0)
        active = np.any([t.frames.active for t in tracks], axis=0)
        values = np.where(active[None, :], np.nan_to_num(band), 0.0)
        method = ("per-band log-spectral residual (dB) between the window and its resynthesis, mean over the "
                  f"{', '.join(rset.tracks)} round trips; silent frames 0")
        return TimeFreqMap(name=name, unit="dB", times_s=frames.times_s + a / rate,
                           freqs_hz=rs.band_centres_hz(), values=values.astype(np.float32)), method
