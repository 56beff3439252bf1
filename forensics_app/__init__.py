"""Offline forensic workstation for synthetic and manipulated media."""

__version__ = "0.1.0"
