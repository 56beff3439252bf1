"""A loaded speech detector: a catalogued model's net, its calibration and its window schedule.

:func:`load_detector` resolves a model id in the catalog (shipped or imported), verifies the
weights' SHA-256, loads them without executing pickled code, builds the registered architecture
and puts it on the compute device. :class:`Detector` then scores any recording window by window
through the front end its architecture declares (:mod:`forensics_app.detectors.front_ends`:
waveform windows, or self-resynthesis residual statistics), turns raw scores into calibrated
log-likelihood ratios and FakeLikelihoods, and draws explanation maps of windows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from forensics_app.detectors import catalog
from forensics_app.detectors.front_ends import FrontEnd, front_end_name, get_front_end
from forensics_app.detectors.windows import WindowScores, file_score
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.results import TimeFreqMap
from forensics_app.settings import compute_device

#: The task of models that this module loads.
TASK = "speech-detection"


def to_rate(wave: np.ndarray, *, rate: int, target: int) -> np.ndarray:
    """Resample mono audio to ``target`` Hz with a polyphase filter.

    Parameters
    ----------
    wave : np.ndarray
        Shape (n,), float.
    rate, target : int
        Source and target sample rates in Hz.

    Returns
    -------
    np.ndarray
        Shape (round(n * target / rate),), float32.
    """
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if rate == target:
        return wave
    g = gcd(int(rate), int(target))
    return resample_poly(wave, target // g, rate // g).astype(np.float32)


@dataclass
class Detector:
    """A speech detector ready to score.

    Attributes
    ----------
    entry : catalog.ModelEntry
        The catalogue entry (id, SHA-256, card, calibration, bands, validation figures).
    net : torch.nn.Module
        The network in eval mode on ``device``.
    device : str
        ``"cpu"`` or ``"cuda"``.
    """

    entry: catalog.ModelEntry
    net: Any
    device: str

    def __post_init__(self) -> None:
        self.net_lock = threading.Lock()  # one forward pass at a time per loaded net

    @property
    def sample_rate(self) -> int:
        """The rate (Hz) the net expects."""
        return int(self.entry.sample_rate)

    @property
    def window_s(self) -> float:
        """Window length (s)."""
        return float(self.entry.input_length_s)

    @property
    def hop_s(self) -> float:
        """Window hop (s)."""
        return float(self.entry.hop_s)

    @property
    def front_end(self) -> FrontEnd:
        """How recordings are fed to the net (declared by its architecture, see :mod:`.front_ends`)."""
        return get_front_end(front_end_name(self.net))

    def score_wave(self, wave: np.ndarray, *, rate: int, progress: Progress | None = None,
                   hop_s: float | None = None) -> WindowScores:
        """Raw fake scores of every window of a mono recording.

        Parameters
        ----------
        wave : np.ndarray
            Shape (n,), float, at ``rate`` Hz.
        rate : int
            Sample rate (Hz); the front end resamples to :attr:`sample_rate`.
        progress : Progress, optional
            Reports fractions and is checked between batches.
        hop_s : float, optional
            Window hop (s); default the model's.

        Returns
        -------
        WindowScores
            Window start/end times (s) and raw scores (natural-log odds, higher = more synthetic);
            NaN for windows the front end cannot score (a residual detector's windows with too
            little active speech).
        """
        return self.front_end.score(self, np.asarray(wave).reshape(-1), rate=int(rate),
                                    hop_s=self.hop_s if hop_s is None else float(hop_s), progress=progress)

    def score_file(self, path: Path) -> float:
        """The file-level raw fake score of an audio file (mean of its window scores).

        Parameters
        ----------
        path : Path
            Any audio file the workstation decodes (channels are averaged).
        """
        from forensics_app.ingest.decode import decode_audio

        clip = decode_audio(Path(path))
        return file_score(self.score_wave(clip.mono(), rate=clip.rate))

    @property
    def llr_bounds(self) -> tuple[float, float]:
        """The strongest LLRs the validation data can support, ``(low, high)``.

        A likelihood ratio of 1000 claims that bona fide speech scores this high less than once in
        a thousand trials; a validation set of 60 bona fide recordings cannot show that. Stated LLRs
        are therefore limited to ``ln(n_bonafide)`` in favour of synthetic and ``-ln(n_spoof)`` in
        favour of bona fide, the counts of the validation items behind the verdict bands (5 when the
        model does not record them).
        """
        rates = getattr(self.entry.bands, "rates", None)
        n_bona = getattr(rates, "n_bona", 0) or 0
        n_spoof = getattr(rates, "n_spoof", 0) or 0
        hi = float(np.log(n_bona)) if n_bona > 1 else 5.0
        lo = -float(np.log(n_spoof)) if n_spoof > 1 else -5.0
        return lo, hi

    def llr(self, raw: np.ndarray | float, *, bounded: bool = True) -> np.ndarray:
        """Calibrated natural-log likelihood ratios (synthetic vs bona fide) of raw scores.

        Parameters
        ----------
        raw : array_like
            Raw scores; NaN (an unscored window) stays NaN.
        bounded : bool
            Limit the LLRs to :attr:`llr_bounds` (what the validation data supports).

        Raises
        ------
        AnalyzerError
            When the model has no calibration.
        """
        cal = self.entry.calibration
        if cal is None:
            raise AnalyzerError(f"model {self.entry.id} has no calibration: its scores cannot be "
                                "turned into likelihood ratios")
        out = np.asarray(cal.llr(np.asarray(raw, dtype=np.float64)), dtype=np.float64)
        return np.clip(out, *self.llr_bounds) if bounded else out

    def explain(self, wave: np.ndarray, *, rate: int, start_s: float, name: str) -> tuple[TimeFreqMap, str]:
        """The explanation map of the window starting at ``start_s``.

        Parameters
        ----------
        wave : np.ndarray
            The whole recording, shape (n,), at ``rate`` Hz.
        rate : int
            Sample rate (Hz).
        start_s : float
            Window start (s) in the recording.
        name : str
            Name of the map.

        Returns
        -------
        TimeFreqMap
            Over absolute time (s) and frequency (Hz): relevance in [0, 1] for waveform detectors,
            the window's residual map (dB) for residual detectors.
        str
            The explanation method (e.g. integrated gradients).
        """
        return self.front_end.explain(self, np.asarray(wave).reshape(-1), rate=int(rate), start_s=float(start_s),
                                      name=name)


_CACHE: dict[tuple[str, str, str], Detector] = {}
_CACHE_LOCK = threading.Lock()


def available_detectors() -> list[catalog.ModelEntry]:
    """Every catalogued speech-detection model (shipped first, then imported)."""
    return catalog.all_models(task=TASK)


def load_detector(model_id: str, *, device: str | None = None) -> Detector:
    """Load a catalogued detector (cached per model, hash and device).

    Parameters
    ----------
    model_id : str
        A model id from :func:`available_detectors`.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; default :func:`forensics_app.settings.compute_device`.

    Raises
    ------
    NotFound
        Unknown model id.
    IntegrityError
        The weights file does not match the catalogued SHA-256.
    """
    entry = catalog.get_model(model_id)
    if entry.task != TASK:
        raise AnalyzerError(f"model {model_id} is a {entry.task} model, not a speech detector")
    dev = device or compute_device()
    key = (entry.id, entry.sha256, dev)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
    from forensics_app.detectors.weights import load_state_dict
    from forensics_app.nets.registry import build

    state = load_state_dict(entry.weights_path, expected_sha256=entry.sha256)
    net = build(entry.architecture, entry.config)
    net.load_state_dict(state, strict=True)
    net.eval()
    net.to(dev)
    det = Detector(entry=entry, net=net, device=dev)
    with _CACHE_LOCK:
        _CACHE.setdefault(key, det)
    return _CACHE[key]
