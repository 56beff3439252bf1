"""Frequency axes for display: linear, logarithmic and mel, mapping FFT bins to image rows.

A :class:`FrequencyScale` divides ``[f_min_hz, f_max_hz]`` into ``n_rows`` rows that are equally
wide on its axis (hertz, log-hertz or mel). Row 0 is the *lowest* frequency. Each row's power is
the *largest* power of the FFT bins whose centre frequencies fall inside the row (a peak
detector, as spectrum analysers decimate for display): a tone reads its true level whatever the
row height, so the cursor readout of a hum or a pilot tone is right at any zoom; broadband noise
reads a few dB above its per-bin mean where rows hold many bins. A row narrower than the bin
spacing (low rows of a log or mel axis) holds no bin centre and takes the power linearly
interpolated between the two bins around the row's centre.

Mel uses the HTK formula ``m = 2595 log10(1 + f / 700)`` (no librosa needed). Scales register
themselves by name in :data:`SCALES` (the decorator :func:`register_scale`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["FrequencyScale", "SCALES", "register_scale", "hz_to_mel", "mel_to_hz"]

Mapping = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
SCALES: dict[str, Mapping] = {}
"""Scale name -> (forward: Hz -> axis units, inverse: axis units -> Hz)."""
LOG_MIN_HZ = 20.0
"""Default lowest frequency of a logarithmic axis (or the first non-zero bin, if higher)."""


def register_scale(name: str) -> Callable[[Callable[[], Mapping]], Callable[[], Mapping]]:
    """Register a frequency axis: the decorated function returns ``(forward, inverse)``."""
    def deco(factory: Callable[[], Mapping]) -> Callable[[], Mapping]:
        SCALES[name] = factory()
        return factory
    return deco


def hz_to_mel(f_hz: np.ndarray) -> np.ndarray:
    """HTK mel: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f_hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@register_scale("linear")
def _linear() -> Mapping:
    return (lambda f: np.asarray(f, dtype=np.float64), lambda u: np.asarray(u, dtype=np.float64))


@register_scale("log")
def _log() -> Mapping:
    return (lambda f: np.log(np.asarray(f, dtype=np.float64)), lambda u: np.exp(np.asarray(u, dtype=np.float64)))


@register_scale("mel")
def _mel() -> Mapping:
    return (hz_to_mel, mel_to_hz)


@dataclass(frozen=True)
class FrequencyScale:
    """A display frequency axis.

    Attributes
    ----------
    kind : str
        A name in :data:`SCALES`: "linear", "log" or "mel".
    f_min_hz, f_max_hz : float, optional
        Axis limits in Hz. When None they are taken from the FFT bins given to
        :meth:`bins_to_rows` (0 Hz, or :data:`LOG_MIN_HZ` for "log", up to Nyquist); use
        :meth:`resolved` to fix them for a sample rate.
    """

    kind: str = "linear"
    f_min_hz: float | None = None
    f_max_hz: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCALES:
            raise ValueError(f"unknown frequency scale {self.kind!r}; choose one of {', '.join(SCALES)}")
        lo, hi = self.f_min_hz, self.f_max_hz
        if lo is not None and (lo < 0 or (self.kind == "log" and lo <= 0)):
            raise ValueError(f"{self.kind} axis: lowest frequency {lo} Hz is not allowed")
        if lo is not None and hi is not None and not hi > lo:
            raise ValueError(f"{self.kind} axis: highest frequency {hi} Hz must exceed the lowest {lo} Hz")

    def resolved(self, freqs_hz: np.ndarray) -> FrequencyScale:
        """This scale with missing limits taken from the FFT bin frequencies ``freqs_hz``."""
        freqs = np.asarray(freqs_hz, dtype=np.float64)
        hi = float(freqs[-1]) if self.f_max_hz is None else float(self.f_max_hz)
        if self.f_min_hz is not None:
            lo = float(self.f_min_hz)
        elif self.kind == "log":
            lo = max(LOG_MIN_HZ, float(freqs[1]) if len(freqs) > 1 else LOG_MIN_HZ)
        else:
            lo = 0.0
        return FrequencyScale(self.kind, lo, hi)

    def row_edges_hz(self, n_rows: int) -> np.ndarray:
        """Row boundaries in Hz, shape (n_rows + 1,), increasing; row ``i`` spans edges ``[i, i+1]``.

        Raises
        ------
        ValueError
            When a limit is still None (call :meth:`resolved` first).
        """
        if self.f_min_hz is None or self.f_max_hz is None:
            raise ValueError("the axis limits are not set: use FrequencyScale.resolved(freqs_hz) first")
        if n_rows < 1:
            raise ValueError(f"need at least one row, not {n_rows}")
        fwd, inv = SCALES[self.kind]
        u = np.linspace(fwd(np.float64(self.f_min_hz)), fwd(np.float64(self.f_max_hz)), int(n_rows) + 1)
        edges = inv(u)
        edges[0], edges[-1] = self.f_min_hz, self.f_max_hz
        return edges

    def row_centres_hz(self, n_rows: int) -> np.ndarray:
        """Row centre frequencies in Hz (midpoints on this axis), shape (n_rows,)."""
        fwd, inv = SCALES[self.kind]
        u = fwd(self.row_edges_hz(n_rows))
        return inv((u[:-1] + u[1:]) / 2.0)

    def bins_to_rows(self, power: np.ndarray, freqs_hz: np.ndarray, n_rows: int) -> np.ndarray:
        """Map power on FFT bins to display rows (see the module docstring).

        Parameters
        ----------
        power : np.ndarray
            Shape (n_freqs, n_cols), linear power per bin.
        freqs_hz : np.ndarray
            Bin centre frequencies, shape (n_freqs,), increasing and evenly spaced or not.
        n_rows : int
            Output rows.

        Returns
        -------
        np.ndarray
            float32, shape (n_rows, n_cols); row 0 is the lowest frequency.
        """
        power = np.asarray(power)
        freqs = np.asarray(freqs_hz, dtype=np.float64)
        if power.ndim != 2 or power.shape[0] != len(freqs):
            raise ValueError(f"power must have shape (n_freqs={len(freqs)}, n_cols), not {power.shape}")
        scale = self.resolved(freqs)
        edges = scale.row_edges_hz(n_rows)
        lo = np.searchsorted(freqs, edges[:-1], side="left")
        hi = np.searchsorted(freqs, edges[1:], side="left")
        hi[-1] = np.searchsorted(freqs, edges[-1], side="right")  # the top edge is inclusive
        count = hi - lo
        out = np.empty((n_rows, power.shape[1]), np.float32)
        full = np.flatnonzero(count > 0)
        if len(full):
            # rows partition the bins (a row ends where the next begins; empty rows hold none),
            # so one reduceat over the starts of the rows holding bins reduces each row exactly
            starts = lo[full]
            stop = int(hi[full[-1]])
            out[full] = np.maximum.reduceat(power[:stop], starts, axis=0)
        empty = np.flatnonzero(count == 0)
        if len(empty):
            centres = scale.row_centres_hz(n_rows)[empty]
            pos = np.interp(centres, freqs, np.arange(len(freqs), dtype=np.float64))
            i0 = np.clip(np.floor(pos).astype(np.int64), 0, len(freqs) - 1)
            i1 = np.minimum(i0 + 1, len(freqs) - 1)
            w = (pos - i0)[:, None].astype(np.float32)
            out[empty] = power[i0] * (1.0 - w) + power[i1] * w
        return out
