"""Errors of the detector machinery that callers handle specifically (importing this module needs no torch)."""

from __future__ import annotations

from forensics_app.domain.errors import AnalyzerError


class NoScorableWindows(AnalyzerError):
    """A detector could score none of a recording's windows.

    Raised for a residual detector when the recording holds too little active speech for the
    resynthesis statistics (every window NaN, or the whole recording below the resynthesis's
    silence level), and by :func:`forensics_app.detectors.windows.file_score` when no window has a
    score. The synthetic-speech analyzer leaves such a model out of the fusion and says so.
    """
