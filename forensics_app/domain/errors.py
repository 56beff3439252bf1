"""The workstation's exception hierarchy.

Every error that reaches a user carries a message that names the object (file, case, analyzer)
and the reason, so the GUI and the CLI can show it as it is.
"""

from __future__ import annotations


class ForensicsError(Exception):
    """Base class of every error the workstation raises on purpose."""


class UnsupportedMedia(ForensicsError):
    """The file is not audio, video or a still image that the workstation can read."""


class CorruptMedia(ForensicsError):
    """The file claims a supported format but is truncated, damaged or empty."""


class IntegrityError(ForensicsError):
    """A stored evidence copy no longer matches its recorded hash, or is missing."""


class CaseError(ForensicsError):
    """A case folder is missing, already exists, or is not a case."""


class NotFound(ForensicsError):
    """An evidence item, run or analyzer id does not exist."""


class AnalyzerError(ForensicsError):
    """An analyzer was asked to do something it cannot (wrong media kind, bad parameter)."""


class Cancelled(ForensicsError):
    """Raised inside a job when the user cancelled it."""
