"""Job specifications and the progress/cancel channel between a job and whoever watches it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from forensics_app.domain.errors import Cancelled


@dataclass(frozen=True)
class JobSpec:
    """What to run: an analyzer at a version with parameters (and the model it uses, if any)."""

    analyzer_id: str
    analyzer_version: str
    params: Mapping[str, Any] = field(default_factory=dict)
    model_sha256: str | None = None


class Progress(Protocol):
    """What an analysis sees of the outside world while it runs."""

    def report(self, fraction: float, message: str = "") -> None:
        """Report completion in [0, 1] and a short status message."""

    @property
    def cancelled(self) -> bool:
        """Whether the user asked to stop."""

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop."""


class ProgressToken:
    """Thread-safe :class:`Progress` implementation.

    Parameters
    ----------
    callback : callable, optional
        Called as ``callback(fraction, message)`` from the job's thread on each report.
    start, span : float
        Sub-range of the overall job this token maps [0, 1] onto (for nested steps).
    """

    def __init__(
        self,
        callback: Callable[[float, str], None] | None = None,
        *,
        start: float = 0.0,
        span: float = 1.0,
        _event: threading.Event | None = None,
    ) -> None:
        self._callback = callback
        self._start = start
        self._span = span
        self._event = _event or threading.Event()
        self.last_fraction = 0.0
        self.last_message = ""

    def report(self, fraction: float, message: str = "") -> None:
        """Report completion of this (sub-)step, in [0, 1]."""
        f = self._start + self._span * min(max(float(fraction), 0.0), 1.0)
        self.last_fraction = f
        self.last_message = message
        if self._callback is not None:
            self._callback(f, message)

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")

    def sub(self, start: float, span: float) -> ProgressToken:
        """A token for a sub-step covering ``[start, start + span]`` of this one."""
        return ProgressToken(
            self._callback,
            start=self._start + self._span * start,
            span=self._span * span,
            _event=self._event,
        )
