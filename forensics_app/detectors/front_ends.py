"""Detector front ends: how a recording becomes what a detector net scores, declared by the net.

A detector net's class states what it is fed with a class attribute ``front_end`` (absent means
``"waveform"``)::

    @architecture("residual_mlp")
    class ResidualMlp(nn.Module):
        front_end = "resynthesis-residuals"

and the front end registered under that name scores recordings and explains windows for it:

* ``"waveform"`` (this module): fixed-length windows of the 16 kHz waveform, scored in batches by
  :func:`forensics_app.detectors.windows.score_windows`; explanations from
  :mod:`forensics_app.detectors.explain` (integrated gradients, graph attention).
* ``"resynthesis-residuals"`` (:mod:`forensics_app.detectors.residual_front_end`): self-resynthesis
  residual statistics of each window; explanations are the window's residual maps.

Front ends register with :func:`register_front_end`; the built-in ones in :data:`BUILTIN_MODULES`
are imported on first lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from forensics_app.detectors.windows import WindowScores, score_windows
from forensics_app.domain.errors import NotFound
from forensics_app.domain.jobs import Progress
from forensics_app.domain.results import TimeFreqMap

if TYPE_CHECKING:
    from forensics_app.detectors.detector import Detector

#: The front end of nets that declare none.
WAVEFORM = "waveform"

#: Modules holding the built-in front ends besides this one (imported on first lookup).
BUILTIN_MODULES = ("forensics_app.detectors.residual_front_end",)


class FrontEnd(Protocol):
    """What a front end provides to :class:`forensics_app.detectors.detector.Detector`."""

    def score(self, det: Detector, wave: np.ndarray, *, rate: int, hop_s: float,
              progress: Progress | None) -> WindowScores:
        """Raw scores of the windows of a mono recording ``wave`` (n,) at ``rate`` Hz, every ``hop_s`` s."""

    def explain(self, det: Detector, wave: np.ndarray, *, rate: int, start_s: float,
                name: str) -> tuple[TimeFreqMap, str]:
        """The explanation map of the window starting at ``start_s`` (s), and the method's description."""


FrontEndT = TypeVar("FrontEndT", bound=type)

_FRONT_ENDS: dict[str, Any] = {}
_loaded = False


def register_front_end(name: str) -> Callable[[FrontEndT], FrontEndT]:
    """Register an instance of the decorated class as the front end ``name``."""

    def decorate(cls: FrontEndT) -> FrontEndT:
        _FRONT_ENDS[name] = cls()
        return cls

    return decorate


def get_front_end(name: str) -> FrontEnd:
    """The front end registered as ``name``; NotFound lists the known names."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
    try:
        return _FRONT_ENDS[name]
    except KeyError:
        raise NotFound(f"no detector front end {name!r}; known: {', '.join(sorted(_FRONT_ENDS))}") from None


def front_end_name(net: Any) -> str:
    """The front end a net declares (its class attribute ``front_end``), ``"waveform"`` by default."""
    return str(getattr(net, "front_end", WAVEFORM))


@register_front_end(WAVEFORM)
class WaveformFrontEnd:
    """Windows of the waveform at the net's rate, scored in batches; gradient or attention maps."""

    def score(self, det: Detector, wave: np.ndarray, *, rate: int, hop_s: float,
              progress: Progress | None) -> WindowScores:
        """See :class:`FrontEnd`; the audio is resampled to the detector's rate first."""
        from forensics_app.detectors.detector import to_rate

        x = to_rate(wave, rate=rate, target=det.sample_rate)
        with det.net_lock:
            return score_windows(det.net, x, rate=det.sample_rate, window_s=det.window_s, hop_s=hop_s,
                                 device=det.device, progress=progress)

    def explain(self, det: Detector, wave: np.ndarray, *, rate: int, start_s: float,
                name: str) -> tuple[TimeFreqMap, str]:
        """Relevance map in [0, 1] of the window, over absolute time (s) and frequency (Hz)."""
        from forensics_app.detectors.detector import to_rate
        from forensics_app.detectors.explain import explain

        a = int(round(start_s * rate))
        b = a + int(round(det.window_s * rate))
        seg = np.asarray(wave[max(a, 0):b], dtype=np.float32)
        x = to_rate(seg, rate=rate, target=det.sample_rate)
        n = int(round(det.window_s * det.sample_rate))
        if x.size < n:
            x = np.pad(x, (0, n - x.size))
        with det.net_lock:
            ex = explain(det.net, det.entry.architecture, x[:n], rate=det.sample_rate)
        return TimeFreqMap(name=name, unit="relevance", times_s=ex.times_s + start_s,
                           freqs_hz=ex.freqs_hz, values=ex.values), ex.method
